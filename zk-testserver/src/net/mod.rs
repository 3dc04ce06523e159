//! Networking: the client port (TCP on loopback), one task per connection,
//! the core task that owns a server machine, and four-letter words.

pub mod connection;
pub mod core;
pub mod four_letter;
pub mod listener;
