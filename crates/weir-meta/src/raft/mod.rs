//! openraft wiring (filled in below).
