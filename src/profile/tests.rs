//! Tests of profile loading and evaluation.
