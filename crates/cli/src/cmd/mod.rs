//! One module per command.

pub mod cert;
pub mod common;
pub mod demo;
pub mod docs;
pub mod gateway;
pub mod inspect;
pub mod msg;
pub mod pki;
pub mod sign;
pub mod slip;
pub mod speed;
pub mod timestamp;
pub mod verify;
