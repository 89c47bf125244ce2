//! What several integration tests share. Each test binary compiles this module on its own and
//! may use only part of it.
#![allow(dead_code)]

pub mod cluster;
pub mod reference;
