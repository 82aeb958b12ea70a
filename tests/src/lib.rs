//! End-to-end tests of Counterfoil: they drive the real `counterfoil` binary as separate
//! processes (see `tests/it/`, whose `support` module finds or builds the binary).
