//! Redis key names of one Bull queue: `prefix:queueName:suffix`, joined exactly as Bull joins them.

/// The keys of one queue. Cheap to clone; every key is built from [`QueueKeys::base`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueKeys {
    prefix: String,
    name: String,
    base: String,
}

impl QueueKeys {
    /// Keys of queue `name` under `prefix` (Bull's default prefix is `bull`).
    pub fn new(prefix: &str, name: &str) -> QueueKeys {
        QueueKeys {
            prefix: prefix.to_owned(),
            name: name.to_owned(),
            base: format!("{prefix}:{name}:"),
        }
    }

    /// The prefix, e.g. `bull` or `{bull}`.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The queue name, e.g. `bot:commands`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `prefix:name:` — every key and channel of the queue starts with it.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// `prefix:name:suffix`.
    pub fn key(&self, suffix: &str) -> String {
        let mut key = String::with_capacity(self.base.len() + suffix.len());
        key.push_str(&self.base);
        key.push_str(suffix);
        key
    }

    /// The `wait` list.
    pub fn wait(&self) -> String {
        self.key("wait")
    }
    /// The `active` list.
    pub fn active(&self) -> String {
        self.key("active")
    }
    /// The `paused` list.
    pub fn paused(&self) -> String {
        self.key("paused")
    }
    /// The `delayed` zset.
    pub fn delayed(&self) -> String {
        self.key("delayed")
    }
    /// The `completed` zset.
    pub fn completed(&self) -> String {
        self.key("completed")
    }
    /// The `failed` zset.
    pub fn failed(&self) -> String {
        self.key("failed")
    }
    /// The `priority` zset.
    pub fn priority(&self) -> String {
        self.key("priority")
    }
    /// The `repeat` zset.
    pub fn repeat(&self) -> String {
        self.key("repeat")
    }
    /// The `meta-paused` flag.
    pub fn meta_paused(&self) -> String {
        self.key("meta-paused")
    }
    /// The `id` counter.
    pub fn id(&self) -> String {
        self.key("id")
    }
    /// The hash of job `id`.
    pub fn job(&self, id: &str) -> String {
        self.key(id)
    }
    /// The lock of job `id`.
    pub fn lock(&self, id: &str) -> String {
        let mut key = self.key(id);
        key.push_str(":lock");
        key
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_join_prefix_name_and_suffix_without_escaping() {
        let keys = QueueKeys::new("bull", "bot:commands");
        assert_eq!(keys.wait(), "bull:bot:commands:wait");
        assert_eq!(keys.lock("17"), "bull:bot:commands:17:lock");
        assert_eq!(QueueKeys::new("{bull}", "q").id(), "{bull}:q:id");
    }
}
