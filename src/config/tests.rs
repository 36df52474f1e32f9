//! Tests of configuration checking.
