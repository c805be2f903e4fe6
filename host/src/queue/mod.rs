//! A Bull-compatible (npm `bull` 4.x) queue engine over Redis: producer, worker, dead letters.
