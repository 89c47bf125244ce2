//! Files pages load from the server, compiled in.

/// `/counter.js`: fills `data-footfall-count` elements with their public counts in one request.
pub const COUNTER_JS: &str = include_str!("../assets/counter.js");
