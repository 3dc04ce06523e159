//! Networking: the client port (TCP on loopback), one task per connection,
//! the task that drives a member machine, the in-process links between
//! members, and four-letter words.

pub mod connection;
pub mod core;
pub mod four_letter;
pub mod limits;
pub mod links;
pub mod listener;
pub mod tls;
