//! counterfoil-log (skeleton).
