//! counterfoil-ledger (skeleton).
