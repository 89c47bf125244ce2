//! The load harness behind `footfall-load`: what to send ([`mix`]), how to send it ([`drive`]),
//! the servers under test ([`process`]) and what reached the store ([`landed`]).

pub mod drive;
pub mod landed;
pub mod mix;
pub mod process;
