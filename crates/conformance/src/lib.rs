//! counterfoil-conformance (skeleton).
