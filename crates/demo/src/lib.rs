//! counterfoil-demo (skeleton).
