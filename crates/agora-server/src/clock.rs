//! Site time: whole seconds, starting where the journal left off, running
//! `scale` times faster than the wall clock (the virtual executor's
//! `--time-scale`). The core only ever sees these values.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

#[derive(Clone, Copy, Debug)]
pub struct Clock {
    base: u64,
    started: Instant,
    scale: f64,
}

impl Clock {
    /// `floor`: the last `now` in the journal; time never goes back past it.
    pub fn new(floor: u64, scale: f64) -> Clock {
        let wall = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        Clock { base: wall.max(floor), started: Instant::now(), scale }
    }
    pub fn now(&self) -> u64 {
        self.base + (self.started.elapsed().as_secs_f64() * self.scale) as u64
    }
    /// Real time until site time `t`.
    pub fn until(&self, t: u64) -> std::time::Duration {
        let target = (t.saturating_sub(self.base)) as f64 / self.scale;
        std::time::Duration::from_secs_f64((target - self.started.elapsed().as_secs_f64()).max(0.0))
    }
    pub fn scale(&self) -> f64 {
        self.scale
    }
}
