//! The engine's Lua scripts (written for this project from the documented Bull layout), each
//! compiled with the shared helpers of `scripts/lib.lua` and run with EVALSHA (loaded on demand).

use std::sync::LazyLock;

use redis::Script;

macro_rules! script {
    ($name:ident, $file:literal, $doc:literal) => {
        #[doc = $doc]
        pub(crate) static $name: LazyLock<Script> = LazyLock::new(|| {
            Script::new(concat!(
                include_str!("scripts/lib.lua"),
                "\n",
                include_str!(concat!("scripts/", $file))
            ))
        });
    };
}

script!(
    ADD,
    "add.lua",
    "Adds jobs (plain, delayed, prioritized, repeat iterations)."
);
script!(
    TAKE,
    "take.lua",
    "Moves up to N waiting jobs to `active` under our lock."
);
script!(
    FINISH,
    "finish.lua",
    "Completes jobs with their outputs, then takes more."
);
script!(
    FAIL,
    "fail.lua",
    "Records a failed attempt: retry, backoff, or final failure + dead letter."
);
script!(EXTEND, "extend.lua", "Renews the locks of several jobs.");
script!(PROMOTE, "promote.lua", "Promotes due delayed jobs.");
script!(STALLED, "stalled.lua", "The throttled stalled-job check.");
script!(PAUSE, "pause.lua", "Global pause and resume.");
script!(
    RELEASE,
    "release.lua",
    "Gives jobs back to the queue head without consuming an attempt."
);
script!(
    REPLAY,
    "replay.lua",
    "Moves dead letters back to their queues."
);
script!(PURGE, "purge.lua", "Deletes dead letters.");
script!(
    REMOVE_REPEATABLE,
    "remove_repeatable.lua",
    "Removes a repeat series."
);
script!(
    REMOVE_DELAYED,
    "remove_delayed.lua",
    "Removes a job still waiting for its time."
);
