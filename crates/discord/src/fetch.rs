//! Fetching what a plugin names by URL (a message's `files`, a music source) without letting the
//! URL reach anything but the public internet. This module's one job: a URL from a plugin never
//! makes the host talk to itself, its private network or a cloud metadata service.
//!
//! The rules of a [`FetchPolicy`] (`[discord.fetch]` in the configuration):
//! - only `http` and `https`;
//! - the host is resolved first, and every address it resolves to must be public
//!   ([`non_public`] names the ranges refused and why); `allow` (host names, addresses, CIDR
//!   ranges) lifts that rule for what it names, `allow_private_networks` lifts it everywhere;
//! - the connection goes only to the addresses checked: reqwest's `resolve_to_addrs` pins the
//!   host to them, so a DNS answer that changes after the check (rebinding) changes nothing; any
//!   other name the client would resolve goes through a resolver that applies the same rule to
//!   the addresses it hands back; no proxy from the environment is used (a proxy would resolve
//!   the name itself, after the check);
//! - redirects are not followed automatically: [`FetchPolicy::download`] follows at most
//!   [`MAX_REDIRECTS`] by hand, checking each new URL as the first;
//! - a download stops at `max_bytes` (a larger `Content-Length` is refused before the body is
//!   read, a body that grows past it is dropped) and at `timeout_ms` (all hops included).
//!
//! Music ([`FetchPolicy::streaming_client`]): songbird's `HttpRequest` drives its requests itself
//! (the first GET, and a ranged GET to the same URL when it resumes a stream), always with the
//! client it is handed. The player checks the URL first, then hands songbird a client of its own
//! for that one source: pinned to the checked addresses, its other lookups through the checking
//! resolver, and a redirect policy that allows at most [`MAX_REDIRECTS`], refuses a scheme other
//! than http(s) and checks a literal address (a host name is checked by the resolver when the
//! client connects to it, and the connection uses exactly the addresses checked). So no request
//! of a stream reaches an address the policy refuses. The size and time caps do not apply to
//! music: a track is long by nature, and the player bounds opening and stalls with its own
//! timeouts.
//!
//! Errors ([`FetchError`]) name the URL (never its user name or password) and the rule broken.

use std::error::Error as StdError;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::LOCATION;
use reqwest::redirect;
use reqwest::{StatusCode, Url};
use tokio::time::Instant;

use serde::Deserialize;

/// The most redirects one fetch follows.
pub const MAX_REDIRECTS: usize = 3;

const USER_AGENT: &str = concat!("guildhost/", env!("CARGO_PKG_VERSION"));

// ---------------------------------------------------------------- addresses

/// Why an address is not public: the range it lies in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressClass {
    /// `0.0.0.0/8` ("this network"; `0.0.0.0` reaches the host itself) or `::`.
    Unspecified,
    /// `127.0.0.0/8`, `::1`.
    Loopback,
    /// `10.0.0.0/8`, `172.16.0.0/12`, `192.168.0.0/16`.
    Private,
    /// `100.64.0.0/10`, carrier-grade NAT.
    SharedAddressSpace,
    /// `169.254.0.0/16` (where cloud metadata services answer), `fe80::/10`.
    LinkLocal,
    /// `192.0.0.0/24`, `2001::/23`: IETF protocol assignments.
    ProtocolAssignment,
    /// `198.18.0.0/15`, `2001:2::/48`.
    Benchmarking,
    /// `192.0.2.0/24`, `198.51.100.0/24`, `203.0.113.0/24`, `2001:db8::/32`, `3fff::/20`.
    Documentation,
    /// `224.0.0.0/4`, `ff00::/8`.
    Multicast,
    /// `255.255.255.255`.
    Broadcast,
    /// `240.0.0.0/4`, and IPv6 outside the global unicast `2000::/3`.
    Reserved,
    /// `fc00::/7` (including AWS's metadata address `fd00:ec2::254`).
    UniqueLocal,
    /// `fec0::/10` (deprecated, still routed on some networks).
    SiteLocal,
    /// `64:ff9b:1::/48`, NAT64 for a local network.
    LocalNat64,
    /// `100::/64`, discard-only.
    DiscardOnly,
}

impl AddressClass {
    /// The class as the error messages name it: `a loopback address`.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Unspecified => "an unspecified address",
            Self::Loopback => "a loopback address",
            Self::Private => "a private address",
            Self::SharedAddressSpace => "a carrier-grade NAT address",
            Self::LinkLocal => "a link-local address",
            Self::ProtocolAssignment => "an IETF protocol assignment address",
            Self::Benchmarking => "a benchmarking address",
            Self::Documentation => "a documentation address",
            Self::Multicast => "a multicast address",
            Self::Broadcast => "the broadcast address",
            Self::Reserved => "a reserved address",
            Self::UniqueLocal => "a unique-local address",
            Self::SiteLocal => "a site-local address",
            Self::LocalNat64 => "a local-use NAT64 address",
            Self::DiscardOnly => "a discard-only address",
        }
    }
}

impl fmt::Display for AddressClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// The range that makes `ip` not public, or `None` for a public address.
///
/// An IPv6 address that carries an IPv4 address (IPv4-mapped `::ffff:a.b.c.d`, IPv4-compatible
/// `::a.b.c.d`, NAT64 `64:ff9b::a.b.c.d`, 6to4 `2002:aabb:ccdd::`) is as public as the IPv4
/// address it reaches.
pub fn non_public(ip: IpAddr) -> Option<AddressClass> {
    match ip {
        IpAddr::V4(ip) => non_public_v4(ip),
        IpAddr::V6(ip) => non_public_v6(ip),
    }
}

fn non_public_v4(ip: Ipv4Addr) -> Option<AddressClass> {
    use AddressClass as C;
    if ip == Ipv4Addr::BROADCAST {
        return Some(C::Broadcast);
    }
    let class = match ip.octets() {
        [0, ..] => C::Unspecified,
        [10, ..] => C::Private,
        [100, 64..=127, ..] => C::SharedAddressSpace,
        [127, ..] => C::Loopback,
        [169, 254, ..] => C::LinkLocal,
        [172, 16..=31, ..] => C::Private,
        [192, 0, 0, _] => C::ProtocolAssignment,
        [192, 0, 2, _] | [198, 51, 100, _] | [203, 0, 113, _] => C::Documentation,
        [192, 168, ..] => C::Private,
        [198, 18..=19, ..] => C::Benchmarking,
        [224..=239, ..] => C::Multicast,
        [240..=255, ..] => C::Reserved,
        _ => return None,
    };
    Some(class)
}

fn non_public_v6(ip: Ipv6Addr) -> Option<AddressClass> {
    use AddressClass as C;
    let s = ip.segments();
    let low_v4 = || Ipv4Addr::from((u32::from(s[6]) << 16) | u32::from(s[7]));
    if ip.is_unspecified() {
        return Some(C::Unspecified);
    }
    if ip.is_loopback() {
        return Some(C::Loopback);
    }
    if let Some(v4) = ip.to_ipv4_mapped() {
        return non_public_v4(v4);
    }
    // IPv4-compatible (deprecated): ::a.b.c.d.
    if s[..6] == [0; 6] {
        return non_public_v4(low_v4());
    }
    // NAT64, well-known prefix: 64:ff9b::a.b.c.d.
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return non_public_v4(low_v4());
    }
    if s[..3] == [0x64, 0xff9b, 1] {
        return Some(C::LocalNat64);
    }
    // 6to4: 2002:aabb:ccdd::/48 stands for a.b.c.d (0xaa.0xbb.0xcc.0xdd).
    if s[0] == 0x2002 {
        return non_public_v4(Ipv4Addr::from((u32::from(s[1]) << 16) | u32::from(s[2])));
    }
    let class = match s {
        [0x100, 0, 0, 0, ..] => C::DiscardOnly,
        [0x2001, 0xdb8, ..] => C::Documentation,
        [0x2001, 2, 0, ..] => C::Benchmarking,
        [0x2001, 0..=0x1ff, ..] => C::ProtocolAssignment,
        [0x3fff, 0..=0x0fff, ..] => C::Documentation,
        [first, ..] if first & 0xfe00 == 0xfc00 => C::UniqueLocal,
        [first, ..] if first & 0xffc0 == 0xfe80 => C::LinkLocal,
        [first, ..] if first & 0xffc0 == 0xfec0 => C::SiteLocal,
        [first, ..] if first & 0xff00 == 0xff00 => C::Multicast,
        // Everything else outside global unicast is unassigned or reserved.
        [first, ..] if first & 0xe000 != 0x2000 => C::Reserved,
        _ => return None,
    };
    Some(class)
}

// ---------------------------------------------------------------- the allow list

/// An address range: `10.1.2.0/24`, `fd00::/8`; a bare address is a range of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Parses `a.b.c.d/n`, `x::y/n`, or a bare address (`/32`, `/128`). Bits past the prefix
    /// must be zero: `10.1.2.3/24` is refused, as it is most likely a typo.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let network: IpAddr = address
            .parse()
            .map_err(|_| format!("`{address}` is not an IP address"))?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(prefix) => prefix
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("`/{prefix}` is not a prefix length from 0 to {max}"))?,
        };
        let cidr = Self { network, prefix };
        let masked = cidr.mask(network);
        if masked != network {
            return Err(format!(
                "`{text}` has bits set past its /{prefix} prefix (the range is {masked}/{prefix})"
            ));
        }
        Ok(cidr)
    }

    /// The range's first address.
    pub fn network(&self) -> IpAddr {
        self.network
    }

    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// Whether `ip` lies in the range. An IPv4-mapped IPv6 address is matched as its IPv4
    /// address, and the other way round.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip) {
            (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), IpAddr::V6(_)) => {
                self.mask(ip) == self.network
            }
            (IpAddr::V4(_), IpAddr::V6(v6)) => v6
                .to_ipv4_mapped()
                .is_some_and(|v4| self.contains(IpAddr::V4(v4))),
            (IpAddr::V6(_), IpAddr::V4(v4)) => self.contains(IpAddr::V6(v4.to_ipv6_mapped())),
        }
    }

    /// `ip` with the bits past the prefix cleared (same family as `ip`).
    fn mask(&self, ip: IpAddr) -> IpAddr {
        match ip {
            IpAddr::V4(v4) => {
                let keep = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                IpAddr::V4(Ipv4Addr::from(u32::from(v4) & keep))
            }
            IpAddr::V6(v6) => {
                let keep = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                IpAddr::V6(Ipv6Addr::from(u128::from(v6) & keep))
            }
        }
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// One entry of `[discord.fetch] allow`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowEntry {
    /// A host name, matched exactly (case-insensitive, a trailing dot ignored): every address it
    /// resolves to is fetched from. Not its subdomains.
    Host(String),
    /// Addresses fetched from whatever name led to them.
    Network(Cidr),
}

impl AllowEntry {
    /// Parses a host name (`media.example.com`), an address (`10.0.0.5`, `fd00::5`) or a range
    /// (`10.1.2.0/24`).
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("must not be empty".to_owned());
        }
        // A name whose last label is a number is an IPv4 address to a URL parser (`10.1.2`).
        let last_label = text.trim_end_matches('.').rsplit('.').next().unwrap_or("");
        let numeric = !last_label.is_empty() && last_label.bytes().all(|b| b.is_ascii_digit());
        let general = || {
            format!(
                "`{text}` is neither a host name (media.example.com), an IP address (10.0.0.5) \
                 nor a CIDR range (10.1.2.0/24)"
            )
        };
        if text.contains('/') || text.contains(':') || numeric {
            let address_like = text
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || matches!(b, b'.' | b':' | b'/'));
            return if address_like {
                Cidr::parse(text).map(Self::Network)
            } else {
                Err(general())
            };
        }
        let name = text.trim_end_matches('.');
        let valid_label = |label: &str| {
            (1..=63).contains(&label.len())
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                && !label.starts_with('-')
                && !label.ends_with('-')
        };
        if name.len() > 253 || !name.split('.').all(valid_label) {
            return Err(general());
        }
        Ok(Self::Host(name.to_ascii_lowercase()))
    }
}

impl fmt::Display for AllowEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Host(host) => f.write_str(host),
            Self::Network(cidr) => cidr.fmt(f),
        }
    }
}

// ---------------------------------------------------------------- errors

/// Where a refused URL came from: nowhere (the URL asked for) or a redirect from it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Via(Option<String>);

impl Via {
    fn redirect_from(url: &Url) -> Self {
        Self(Some(display_url(url)))
    }
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(from) => write!(f, " (redirected from {from})"),
            None => Ok(()),
        }
    }
}

/// Why a URL was not fetched. Every message names the URL (without user name or password) and
/// the rule it broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// Not a URL.
    #[error("{url}{via}: not a valid URL ({reason})")]
    InvalidUrl {
        /// The text, credentials removed.
        url: String,
        /// Where it came from.
        via: Via,
        /// The parser's complaint.
        reason: String,
    },
    /// A scheme other than http and https.
    #[error("{url}{via}: the scheme `{scheme}` is not fetched; only http and https are")]
    Scheme {
        /// The URL.
        url: String,
        /// Where it came from.
        via: Via,
        /// Its scheme.
        scheme: String,
    },
    /// No host to connect to.
    #[error("{url}{via}: names no host")]
    NoHost {
        /// The URL.
        url: String,
        /// Where it came from.
        via: Via,
    },
    /// The host name did not resolve.
    #[error("{url}{via}: the host `{host}` does not resolve: {reason}")]
    Unresolved {
        /// The URL.
        url: String,
        /// Where it came from.
        via: Via,
        /// The host name.
        host: String,
        /// The resolver's answer.
        reason: String,
    },
    /// The host resolved to an address the policy refuses.
    #[error(
        "{url}{via} resolves to {address}, {class}; only public addresses are fetched \
         (allow it with [discord.fetch] allow)"
    )]
    NotPublic {
        /// The URL.
        url: String,
        /// Where it came from.
        via: Via,
        /// The first refused address.
        address: IpAddr,
        /// Its range.
        class: AddressClass,
    },
    /// A redirect past [`MAX_REDIRECTS`].
    #[error("{url}{via}: redirects more than {max} times")]
    TooManyRedirects {
        /// The URL that redirected once too often.
        url: String,
        /// Where it came from.
        via: Via,
        /// [`MAX_REDIRECTS`].
        max: usize,
    },
    /// A redirect whose `Location` is missing or not a URL.
    #[error("{url}{via}: HTTP {status} redirects without a usable Location ({reason})")]
    BadRedirect {
        /// The URL.
        url: String,
        /// Where it came from.
        via: Via,
        /// The redirect's status.
        status: u16,
        /// What is wrong with its `Location`.
        reason: String,
    },
    /// The server answered with an error status.
    #[error("{url}{via}: HTTP {status}")]
    Status {
        /// The URL.
        url: String,
        /// Where it came from.
        via: Via,
        /// The status.
        status: u16,
    },
    /// The body is larger than `max_bytes`.
    #[error("{url}{via}: {}", too_large(*declared, *max_bytes))]
    TooLarge {
        /// The URL.
        url: String,
        /// Where it came from.
        via: Via,
        /// The `Content-Length`, when the server stated one that was too large.
        declared: Option<u64>,
        /// The cap.
        max_bytes: u64,
    },
    /// The fetch took longer than `timeout_ms`.
    #[error("{url}{via}: not fetched within {after:?} ([discord.fetch] timeout_ms)")]
    Timeout {
        /// The URL being fetched when time ran out.
        url: String,
        /// Where it came from.
        via: Via,
        /// The cap.
        after: Duration,
    },
    /// Connecting or reading failed.
    #[error("{url}{via}: {reason}")]
    Network {
        /// The URL.
        url: String,
        /// Where it came from.
        via: Via,
        /// What failed.
        reason: String,
    },
}

fn too_large(declared: Option<u64>, max_bytes: u64) -> String {
    match declared {
        Some(declared) => format!(
            "declares {declared} bytes, more than the {max_bytes} fetched at most \
             ([discord.fetch] max_bytes)"
        ),
        None => {
            format!("larger than the {max_bytes} bytes fetched at most ([discord.fetch] max_bytes)")
        }
    }
}

impl FetchError {
    /// Whether trying again later may succeed: a timeout, a network failure, a name that did not
    /// resolve, a 5xx or 429. A refusal by the policy never is.
    pub fn is_retriable(&self) -> bool {
        match self {
            Self::Unresolved { .. } | Self::Timeout { .. } | Self::Network { .. } => true,
            Self::Status { status, .. } => *status == 429 || *status >= 500,
            _ => false,
        }
    }

    /// The policy's refusal somewhere in `error`'s chain of sources (reqwest wraps what its
    /// resolver and redirect policy return).
    pub fn find_in<'a>(error: &'a (dyn StdError + 'static)) -> Option<&'a FetchError> {
        let mut next = Some(error);
        while let Some(error) = next {
            if let Some(found) = error.downcast_ref::<FetchError>() {
                return Some(found);
            }
            next = error.source();
        }
        None
    }
}

/// `url` without its user name and password.
pub fn display_url(url: &Url) -> String {
    if url.username().is_empty() && url.password().is_none() {
        return url.to_string();
    }
    let mut clean = url.clone();
    let _ = clean.set_username("");
    let _ = clean.set_password(None);
    clean.to_string()
}

/// Text that did not parse as a URL, without what looks like credentials (`user:pass@`).
fn redact_raw(raw: &str) -> String {
    let Some(start) = raw.find("://").map(|i| i + 3) else {
        return raw.to_owned();
    };
    let rest = &raw[start..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{}{}", &raw[..start], &rest[at + 1..]),
        None => raw.to_owned(),
    }
}

/// `error` and its sources, `: `-separated (reqwest's own message is terse).
fn error_chain(error: &(dyn StdError + 'static)) -> String {
    let mut text = error.to_string();
    let mut next = error.source();
    while let Some(source) = next {
        let more = source.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        next = source.source();
    }
    text
}

// ---------------------------------------------------------------- the policy

/// What may be fetched, and how much; see the module documentation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchPolicy {
    /// Skip the address rule everywhere (loopback, private and link-local included).
    pub allow_private_networks: bool,
    /// Hosts and addresses the address rule does not apply to.
    pub allow: Vec<AllowEntry>,
    /// The largest body a download accepts.
    pub max_bytes: u64,
    /// The most a download may take, redirects included.
    pub timeout: Duration,
}

impl Default for FetchPolicy {
    fn default() -> Self {
        let config = FetchConfig::default();
        Self {
            allow_private_networks: config.allow_private_networks,
            allow: Vec::new(),
            max_bytes: config.max_bytes,
            timeout: Duration::from_millis(config.timeout_ms),
        }
    }
}

/// A URL whose host resolved to addresses that all passed the policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedUrl {
    url: Url,
    /// The host name the addresses belong to; `None` for a literal address.
    domain: Option<String>,
    addrs: Vec<SocketAddr>,
}

impl CheckedUrl {
    /// The URL.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The addresses checked; the only ones connected to.
    pub fn addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }
}

/// What a download brought back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// The body.
    pub bytes: Vec<u8>,
    /// The URL it came from, after redirects.
    pub url: Url,
}

/// `[discord.fetch]`: the URLs the host downloads for a command (a `SEND_MESSAGE`'s `files`, a
/// `PLAY_MUSIC` source). By default only `http(s)` URLs whose host resolves to public addresses
/// only: never loopback, private, link-local (cloud metadata), CGNAT, unique-local, multicast or
/// reserved ranges. See [`FetchPolicy`].
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct FetchConfig {
    /// Skip the address rule for every URL (loopback, private networks and the link-local
    /// metadata address included): for a host whose media sits on a private network and that
    /// trusts every plugin with it. Prefer `allow`.
    pub allow_private_networks: bool,
    /// Hosts and addresses the address rule does not apply to: a host name, matched exactly and
    /// case-insensitive (`"media.internal"`, not its subdomains), an address (`"10.0.0.5"`) or a
    /// CIDR range (`"10.1.2.0/24"`) that resolved addresses are matched against.
    pub allow: Vec<String>,
    /// The largest attachment downloaded, in bytes (a larger `Content-Length` is refused before
    /// the body is read). Music streams are not capped.
    pub max_bytes: u64,
    /// The most one attachment download may take, redirects included, in ms.
    pub timeout_ms: u64,
}

/// [`FetchConfig::max_bytes`] by default: 8 MiB.
pub const DEFAULT_FETCH_MAX_BYTES: u64 = 8 * 1024 * 1024;

/// [`FetchConfig::timeout_ms`] by default: 10 s.
pub const DEFAULT_FETCH_TIMEOUT_MS: u64 = 10_000;

impl Default for FetchConfig {
    fn default() -> Self {
        Self {
            allow_private_networks: false,
            allow: Vec::new(),
            max_bytes: DEFAULT_FETCH_MAX_BYTES,
            timeout_ms: DEFAULT_FETCH_TIMEOUT_MS,
        }
    }
}

/// A `[discord.fetch]` value that parsed but is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {problem}")]
pub struct FetchConfigError {
    /// Dotted key, e.g. `discord.fetch.allow[1]`.
    pub key: String,
    /// The rule it breaks.
    pub problem: String,
}

impl FetchPolicy {
    /// The policy `[discord.fetch]` describes; errors name the key (`discord.fetch.allow[1]`).
    pub fn from_config(config: &FetchConfig) -> Result<Self, FetchConfigError> {
        let invalid = |key: String, problem: String| FetchConfigError { key, problem };
        let allow = config
            .allow
            .iter()
            .enumerate()
            .map(|(i, entry)| {
                AllowEntry::parse(entry)
                    .map_err(|e| invalid(format!("discord.fetch.allow[{i}]"), e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if config.max_bytes == 0 {
            return Err(invalid(
                "discord.fetch.max_bytes".into(),
                "must be at least 1, got 0".into(),
            ));
        }
        if config.timeout_ms == 0 {
            return Err(invalid(
                "discord.fetch.timeout_ms".into(),
                "must be at least 1, got 0".into(),
            ));
        }
        Ok(Self {
            allow_private_networks: config.allow_private_networks,
            allow,
            max_bytes: config.max_bytes,
            timeout: Duration::from_millis(config.timeout_ms),
        })
    }

    /// Whether `host` (a name) is on the allow list.
    pub fn allows_host(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.');
        self.allow
            .iter()
            .any(|entry| matches!(entry, AllowEntry::Host(name) if name.eq_ignore_ascii_case(host)))
    }

    /// Why `ip` may not be fetched from (its range), or `None` when it may.
    pub fn refusal(&self, ip: IpAddr) -> Option<AddressClass> {
        if self.allow_private_networks {
            return None;
        }
        let allowed = self
            .allow
            .iter()
            .any(|entry| matches!(entry, AllowEntry::Network(cidr) if cidr.contains(ip)));
        if allowed { None } else { non_public(ip) }
    }

    /// Parses `raw` and checks its scheme.
    pub fn parse_url(raw: &str) -> Result<Url, FetchError> {
        let url = Url::parse(raw.trim()).map_err(|e| FetchError::InvalidUrl {
            url: redact_raw(raw),
            via: Via::default(),
            reason: e.to_string(),
        })?;
        check_scheme(&url, &Via::default())?;
        Ok(url)
    }

    /// Resolves `url`'s host and checks every address it resolves to.
    pub async fn check(&self, url: &Url) -> Result<CheckedUrl, FetchError> {
        self.check_via(url, &Via::default()).await
    }

    async fn check_via(&self, url: &Url, via: &Via) -> Result<CheckedUrl, FetchError> {
        let (host, port) = url_target(url, via)?;
        match host {
            UrlHost::Address(ip) => self.check_literal(url, via, ip, port),
            UrlHost::Domain(domain) => {
                let addrs = self
                    .resolve_checked(domain, port, || display_url(url), via)
                    .await?;
                Ok(CheckedUrl {
                    url: url.clone(),
                    domain: Some(domain.to_owned()),
                    addrs,
                })
            }
        }
    }

    fn check_literal(
        &self,
        url: &Url,
        via: &Via,
        ip: IpAddr,
        port: u16,
    ) -> Result<CheckedUrl, FetchError> {
        if let Some(class) = self.refusal(ip) {
            return Err(FetchError::NotPublic {
                url: display_url(url),
                via: via.clone(),
                address: ip,
                class,
            });
        }
        Ok(CheckedUrl {
            url: url.clone(),
            domain: None,
            addrs: vec![SocketAddr::new(ip, port)],
        })
    }

    /// The addresses `domain` resolves to, all checked; `what` names the URL in errors.
    async fn resolve_checked(
        &self,
        domain: &str,
        port: u16,
        what: impl Fn() -> String,
        via: &Via,
    ) -> Result<Vec<SocketAddr>, FetchError> {
        let unresolved = |reason: String| FetchError::Unresolved {
            url: what(),
            via: via.clone(),
            host: domain.to_owned(),
            reason,
        };
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((domain, port))
            .await
            .map_err(|e| unresolved(e.to_string()))?
            .collect();
        if addrs.is_empty() {
            return Err(unresolved("no address".to_owned()));
        }
        if !self.allows_host(domain)
            && let Some((address, class)) = addrs
                .iter()
                .find_map(|a| self.refusal(a.ip()).map(|class| (a.ip(), class)))
        {
            return Err(FetchError::NotPublic {
                url: what(),
                via: via.clone(),
                address,
                class,
            });
        }
        Ok(addrs)
    }

    /// A client builder that connects to `checked`'s host only at its checked addresses,
    /// resolves any other name through the policy, and uses no proxy.
    fn pinned(
        self: &Arc<Self>,
        checked: &CheckedUrl,
        builder: reqwest::ClientBuilder,
    ) -> reqwest::ClientBuilder {
        let builder = builder
            .no_proxy()
            .dns_resolver(Arc::new(CheckingResolver(self.clone())));
        match &checked.domain {
            Some(domain) => builder.resolve_to_addrs(domain, &checked.addrs),
            None => builder,
        }
    }

    /// Downloads `raw`: checks it, follows up to [`MAX_REDIRECTS`] redirects (each checked), and
    /// reads at most `max_bytes` within `timeout`.
    pub async fn download(self: &Arc<Self>, raw: &str) -> Result<Fetched, FetchError> {
        let deadline = Instant::now() + self.timeout;
        let original = Self::parse_url(raw)?;
        let mut url = original.clone();
        let mut via = Via::default();
        let mut redirects = 0;
        loop {
            let timed_out = |url: &Url, via: &Via| FetchError::Timeout {
                url: display_url(url),
                via: via.clone(),
                after: self.timeout,
            };
            let network = |url: &Url, via: &Via, error: reqwest::Error| {
                // A refusal by the checking resolver stays a refusal.
                if let Some(refused) = FetchError::find_in(&error) {
                    return refused.clone();
                }
                FetchError::Network {
                    url: display_url(url),
                    via: via.clone(),
                    reason: error_chain(&error.without_url()),
                }
            };
            let checked = tokio::time::timeout_at(deadline, self.check_via(&url, &via))
                .await
                .map_err(|_| timed_out(&url, &via))??;
            let client = self
                .pinned(
                    &checked,
                    reqwest::Client::builder()
                        .user_agent(USER_AGENT)
                        .redirect(redirect::Policy::none()),
                )
                .build()
                .map_err(|e| network(&url, &via, e))?;
            let mut response = tokio::time::timeout_at(deadline, client.get(url.clone()).send())
                .await
                .map_err(|_| timed_out(&url, &via))?
                .map_err(|e| network(&url, &via, e))?;
            let status = response.status();
            if is_redirect(status) {
                if redirects == MAX_REDIRECTS {
                    return Err(FetchError::TooManyRedirects {
                        url: display_url(&url),
                        via,
                        max: MAX_REDIRECTS,
                    });
                }
                let bad = |reason: String| FetchError::BadRedirect {
                    url: display_url(&url),
                    via: via.clone(),
                    status: status.as_u16(),
                    reason,
                };
                let location = response
                    .headers()
                    .get(LOCATION)
                    .ok_or_else(|| bad("no Location header".to_owned()))?
                    .to_str()
                    .map_err(|_| bad("the Location header is not text".to_owned()))?;
                let next = url
                    .join(location)
                    .map_err(|e| bad(format!("{}: {e}", redact_raw(location))))?;
                redirects += 1;
                via = Via::redirect_from(&original);
                url = next;
                continue;
            }
            if !status.is_success() {
                return Err(FetchError::Status {
                    url: display_url(&url),
                    via,
                    status: status.as_u16(),
                });
            }
            let too_large = |declared: Option<u64>| FetchError::TooLarge {
                url: display_url(&url),
                via: via.clone(),
                declared,
                max_bytes: self.max_bytes,
            };
            let declared = response.content_length();
            if let Some(declared) = declared
                && declared > self.max_bytes
            {
                return Err(too_large(Some(declared)));
            }
            let capacity = declared.unwrap_or(0).min(self.max_bytes);
            let mut bytes = Vec::with_capacity(usize::try_from(capacity).unwrap_or(0));
            while let Some(chunk) = tokio::time::timeout_at(deadline, response.chunk())
                .await
                .map_err(|_| timed_out(&url, &via))?
                .map_err(|e| network(&url, &via, e))?
            {
                if (bytes.len() as u64).saturating_add(chunk.len() as u64) > self.max_bytes {
                    return Err(too_large(None));
                }
                bytes.extend_from_slice(&chunk);
            }
            return Ok(Fetched { bytes, url });
        }
    }

    /// A client for a stream another library reads from `checked` (songbird's `HttpRequest`):
    /// `builder` (with the caller's timeouts) made to connect only to checked addresses, with
    /// redirects limited and checked as the module documentation says.
    pub fn streaming_client(
        self: &Arc<Self>,
        checked: &CheckedUrl,
        builder: reqwest::ClientBuilder,
    ) -> Result<reqwest::Client, FetchError> {
        let policy = self.clone();
        let redirects = redirect::Policy::custom(move |attempt| {
            let from = attempt
                .previous()
                .first()
                .map(Via::redirect_from)
                .unwrap_or_default();
            let refused = if attempt.previous().len() > MAX_REDIRECTS {
                Some(FetchError::TooManyRedirects {
                    url: attempt
                        .previous()
                        .last()
                        .map(display_url)
                        .unwrap_or_default(),
                    via: Via::default(),
                    max: MAX_REDIRECTS,
                })
            } else {
                policy.check_redirect(attempt.url(), &from).err()
            };
            match refused {
                Some(error) => attempt.error(error),
                None => attempt.follow(),
            }
        });
        self.pinned(checked, builder.user_agent(USER_AGENT).redirect(redirects))
            .build()
            .map_err(|e| FetchError::Network {
                url: display_url(&checked.url),
                via: Via::default(),
                reason: error_chain(&e.without_url()),
            })
    }

    /// What can be checked of a redirect's target without resolving it: the scheme, and a
    /// literal address. A host name is checked by [`CheckingResolver`] when connected to.
    fn check_redirect(&self, url: &Url, via: &Via) -> Result<(), FetchError> {
        match url_target(url, via)? {
            (UrlHost::Address(ip), port) => self.check_literal(url, via, ip, port).map(drop),
            (UrlHost::Domain(_), _) => Ok(()),
        }
    }
}

/// What every check starts with: an allowed scheme, then the host to connect to and its port.
fn url_target<'u>(url: &'u Url, via: &Via) -> Result<(UrlHost<'u>, u16), FetchError> {
    check_scheme(url, via)?;
    let port = url.port_or_known_default().unwrap_or(80);
    let host = url_host(url).ok_or_else(|| FetchError::NoHost {
        url: display_url(url),
        via: via.clone(),
    })?;
    Ok((host, port))
}

/// A URL's host: a literal address or a name to resolve.
enum UrlHost<'a> {
    Address(IpAddr),
    Domain(&'a str),
}

/// The host of `url` (an http(s) URL, whose parser already turned `2130706433` or `0x7f.1` into
/// the dotted address and wraps an IPv6 address in brackets).
fn url_host(url: &Url) -> Option<UrlHost<'_>> {
    let host = url.host_str().filter(|h| !h.is_empty())?;
    if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return v6
            .parse::<Ipv6Addr>()
            .ok()
            .map(|ip| UrlHost::Address(IpAddr::V6(ip)));
    }
    Some(match host.parse::<Ipv4Addr>() {
        Ok(ip) => UrlHost::Address(IpAddr::V4(ip)),
        Err(_) => UrlHost::Domain(host),
    })
}

fn check_scheme(url: &Url, via: &Via) -> Result<(), FetchError> {
    match url.scheme() {
        "http" | "https" => Ok(()),
        scheme => Err(FetchError::Scheme {
            url: display_url(url),
            via: via.clone(),
            scheme: scheme.to_owned(),
        }),
    }
}

fn is_redirect(status: StatusCode) -> bool {
    matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308)
}

/// reqwest's resolver for every name not pinned: resolves, then applies the address rule to
/// what it hands back, so a connection goes only to addresses checked.
struct CheckingResolver(Arc<FetchPolicy>);

impl Resolve for CheckingResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.0.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs = policy
                .resolve_checked(&host, 0, || format!("the host {host}"), &Via::default())
                .await?;
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        match text.parse() {
            Ok(ip) => ip,
            Err(e) => panic!("{text}: {e}"),
        }
    }

    #[test]
    fn each_non_public_range_is_named() {
        use AddressClass as C;
        let cases = [
            ("0.0.0.0", C::Unspecified),
            ("0.1.2.3", C::Unspecified),
            ("::", C::Unspecified),
            ("127.0.0.1", C::Loopback),
            ("127.255.255.254", C::Loopback),
            ("::1", C::Loopback),
            ("10.0.0.1", C::Private),
            ("10.255.255.255", C::Private),
            ("172.16.0.1", C::Private),
            ("172.31.255.255", C::Private),
            ("192.168.1.1", C::Private),
            ("169.254.0.1", C::LinkLocal),
            ("169.254.169.254", C::LinkLocal),
            ("fe80::1", C::LinkLocal),
            ("febf::1", C::LinkLocal),
            ("100.64.0.1", C::SharedAddressSpace),
            ("100.127.255.255", C::SharedAddressSpace),
            ("fc00::1", C::UniqueLocal),
            ("fd12:3456::1", C::UniqueLocal),
            ("fd00:ec2::254", C::UniqueLocal),
            ("224.0.0.1", C::Multicast),
            ("239.255.255.250", C::Multicast),
            ("ff02::1", C::Multicast),
            ("255.255.255.255", C::Broadcast),
            ("192.0.0.8", C::ProtocolAssignment),
            ("2001::1", C::ProtocolAssignment),
            ("198.18.0.1", C::Benchmarking),
            ("198.19.255.255", C::Benchmarking),
            ("2001:2::1", C::Benchmarking),
            ("192.0.2.1", C::Documentation),
            ("198.51.100.7", C::Documentation),
            ("203.0.113.200", C::Documentation),
            ("2001:db8::1", C::Documentation),
            ("3fff::1", C::Documentation),
            ("240.0.0.1", C::Reserved),
            ("254.1.2.3", C::Reserved),
            ("fec0::1", C::SiteLocal),
            ("64:ff9b:1::1", C::LocalNat64),
            ("100::1", C::DiscardOnly),
            ("4000::1", C::Reserved),
            // IPv6 forms of an IPv4 address are as public as the address they carry.
            ("::ffff:127.0.0.1", C::Loopback),
            ("::ffff:169.254.169.254", C::LinkLocal),
            ("::ffff:10.1.2.3", C::Private),
            ("::127.0.0.1", C::Loopback),
            ("::10.0.0.1", C::Private),
            ("64:ff9b::127.0.0.1", C::Loopback),
            ("64:ff9b::a9fe:a9fe", C::LinkLocal),
            ("2002:7f00:1::", C::Loopback),
            ("2002:c0a8:101::1", C::Private),
            ("2002:a9fe:a9fe::", C::LinkLocal),
        ];
        for (text, class) in cases {
            assert_eq!(non_public(ip(text)), Some(class), "{text}");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for text in [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.216.34",
            "172.15.255.255",
            "172.32.0.1",
            "100.63.255.255",
            "100.128.0.1",
            "192.0.1.1",
            "192.169.0.1",
            "198.17.255.255",
            "198.20.0.1",
            "223.255.255.255",
            "2606:4700::1111",
            "2001:4860:4860::8888",
            "2a00:1450:4001::1",
            "::ffff:1.1.1.1",
            "64:ff9b::1.1.1.1",
            "2002:101:101::1",
        ] {
            assert_eq!(non_public(ip(text)), None, "{text}");
        }
    }

    #[test]
    fn cidr_ranges_parse_and_match() {
        let net = Cidr::parse("10.1.2.0/24").expect("a range");
        assert_eq!((net.network(), net.prefix()), (ip("10.1.2.0"), 24));
        assert_eq!(net.to_string(), "10.1.2.0/24");
        assert!(net.contains(ip("10.1.2.0")));
        assert!(net.contains(ip("10.1.2.255")));
        assert!(!net.contains(ip("10.1.3.0")));
        assert!(
            net.contains(ip("::ffff:10.1.2.9")),
            "an IPv4-mapped address"
        );
        assert!(!net.contains(ip("fd00::1")));

        let one = Cidr::parse("127.0.0.1").expect("a bare address");
        assert_eq!(one.prefix(), 32);
        assert!(one.contains(ip("127.0.0.1")));
        assert!(!one.contains(ip("127.0.0.2")));

        let v6 = Cidr::parse("fd00:ec2::/32").expect("an IPv6 range");
        assert!(v6.contains(ip("fd00:ec2::254")));
        assert!(!v6.contains(ip("fd00:ec3::254")));
        assert_eq!(Cidr::parse("::1").map(|c| c.prefix()), Ok(128));

        let all = Cidr::parse("0.0.0.0/0").expect("everything");
        assert!(all.contains(ip("8.8.8.8")) && all.contains(ip("10.0.0.1")));
        assert!(
            Cidr::parse("::/0")
                .expect("all of IPv6")
                .contains(ip("::1"))
        );
        let mapped = Cidr::parse("::ffff:10.0.0.0/104").expect("a mapped range");
        assert!(
            mapped.contains(ip("10.200.0.1")),
            "an IPv4 address in a mapped range"
        );

        for (text, problem) in [
            (
                "10.1.2.3/24",
                "bits set past its /24 prefix (the range is 10.1.2.0/24)",
            ),
            ("10.1.2.0/33", "`/33` is not a prefix length from 0 to 32"),
            ("fd00::/129", "`/129` is not a prefix length from 0 to 128"),
            ("10.1.2.0/", "`/` is not a prefix length"),
            ("10.1.2.0/x", "`/x` is not a prefix length"),
            ("10.1.2/24", "`10.1.2` is not an IP address"),
            ("example.com/24", "`example.com` is not an IP address"),
            (
                "fd00::1/8",
                "bits set past its /8 prefix (the range is fd00::/8)",
            ),
        ] {
            let err = Cidr::parse(text).expect_err(text);
            assert!(err.contains(problem), "{text}: {err}");
        }
    }

    #[test]
    fn allow_entries_are_host_names_addresses_or_ranges() {
        assert_eq!(
            AllowEntry::parse("Media.Example.COM."),
            Ok(AllowEntry::Host("media.example.com".into()))
        );
        assert_eq!(
            AllowEntry::parse("minio_1"),
            Ok(AllowEntry::Host("minio_1".into()))
        );
        assert!(matches!(
            AllowEntry::parse(" 10.1.2.0/24 "),
            Ok(AllowEntry::Network(net)) if net.to_string() == "10.1.2.0/24"
        ));
        assert!(matches!(
            AllowEntry::parse("127.0.0.1"),
            Ok(AllowEntry::Network(net)) if net.prefix() == 32
        ));
        assert!(matches!(
            AllowEntry::parse("fd00::5"),
            Ok(AllowEntry::Network(net)) if net.prefix() == 128
        ));
        for bad in [
            "",
            "http://media.example.com",
            "media.example.com:8080",
            "*.example.com",
            "-bad.example.com",
            "two..dots",
            "10.1.2",
            "ünïcode.example",
        ] {
            assert!(AllowEntry::parse(bad).is_err(), "{bad:?} is refused");
        }
    }

    #[test]
    fn the_allow_list_lifts_the_address_rule_for_what_it_names() {
        let strict = FetchPolicy::default();
        assert_eq!(strict.refusal(ip("10.1.2.3")), Some(AddressClass::Private));
        assert_eq!(strict.refusal(ip("1.1.1.1")), None);
        assert!(!strict.allows_host("media.internal"));

        let policy = FetchPolicy {
            allow: vec![
                AllowEntry::parse("Media.Internal").expect("a host"),
                AllowEntry::parse("10.1.2.0/24").expect("a range"),
                AllowEntry::parse("127.0.0.1").expect("an address"),
            ],
            ..FetchPolicy::default()
        };
        assert!(policy.allows_host("media.internal"));
        assert!(policy.allows_host("MEDIA.internal."));
        assert!(!policy.allows_host("cdn.media.internal"), "not subdomains");
        assert!(!policy.allows_host("internal"));
        assert_eq!(policy.refusal(ip("10.1.2.77")), None);
        assert_eq!(policy.refusal(ip("::ffff:10.1.2.77")), None);
        assert_eq!(policy.refusal(ip("10.1.3.1")), Some(AddressClass::Private));
        assert_eq!(policy.refusal(ip("127.0.0.1")), None);
        assert_eq!(
            policy.refusal(ip("127.0.0.2")),
            Some(AddressClass::Loopback)
        );
        assert_eq!(
            policy.refusal(ip("169.254.169.254")),
            Some(AddressClass::LinkLocal)
        );

        let open = FetchPolicy {
            allow_private_networks: true,
            ..FetchPolicy::default()
        };
        assert_eq!(open.refusal(ip("169.254.169.254")), None);
        assert_eq!(open.refusal(ip("127.0.0.1")), None);
    }

    #[tokio::test]
    async fn only_http_and_https_are_fetched() {
        for raw in [
            "file:///etc/passwd",
            "ftp://ftp.example.com/file",
            "gopher://127.0.0.1:70/_secret",
            "data:text/plain,hello",
        ] {
            let err = FetchPolicy::parse_url(raw).expect_err(raw);
            assert!(
                matches!(&err, FetchError::Scheme { .. })
                    && err.to_string().contains("only http and https are"),
                "{raw}: {err}"
            );
            assert!(!err.is_retriable());
        }
        let policy = Arc::new(FetchPolicy::default());
        let err = policy
            .download("file:///etc/passwd")
            .await
            .expect_err("no file://");
        assert_eq!(
            err.to_string(),
            "file:///etc/passwd: the scheme `file` is not fetched; only http and https are"
        );
        assert!(FetchPolicy::parse_url("not a url").is_err());
        assert!(FetchPolicy::parse_url("https://example.com/a.png").is_ok());
    }

    #[tokio::test]
    async fn literal_addresses_are_checked_before_any_connection() {
        let policy = FetchPolicy::default();
        for (raw, shown) in [
            ("http://127.0.0.1:9/latest/meta-data/", "127.0.0.1"),
            (
                "http://169.254.169.254/latest/meta-data/",
                "169.254.169.254",
            ),
            ("http://[::1]/", "::1"),
            ("http://[::ffff:127.0.0.1]/", "::ffff:127.0.0.1"),
            ("http://[fd00:ec2::254]/latest/", "fd00:ec2::254"),
            // URL parsers read these as 127.0.0.1.
            ("http://2130706433/", "127.0.0.1"),
            ("http://0x7f.1/", "127.0.0.1"),
            ("http://0/", "0.0.0.0"),
        ] {
            let url = FetchPolicy::parse_url(raw).expect(raw);
            let err = policy.check(&url).await.expect_err(raw);
            assert!(
                matches!(&err, FetchError::NotPublic { address, .. } if address.to_string() == shown),
                "{raw}: {err}"
            );
            assert!(
                err.to_string().contains(
                    "only public addresses are fetched (allow it with [discord.fetch] allow)"
                ),
                "{err}"
            );
        }
        let public = FetchPolicy::parse_url("https://1.1.1.1/").expect("a URL");
        let checked = policy.check(&public).await.expect("a public address");
        assert_eq!(checked.addrs(), &[SocketAddr::from(([1, 1, 1, 1], 443))]);
    }

    #[tokio::test]
    async fn a_host_name_is_checked_by_what_it_resolves_to() {
        // `localhost` resolves from the hosts file, without the network.
        let url = FetchPolicy::parse_url("http://localhost:9/secret").expect("a URL");
        let err = FetchPolicy::default()
            .check(&url)
            .await
            .expect_err("localhost is loopback");
        assert!(
            matches!(
                &err,
                FetchError::NotPublic {
                    class: AddressClass::Loopback,
                    ..
                }
            ),
            "{err}"
        );
        assert!(
            err.to_string()
                .starts_with("http://localhost:9/secret resolves to "),
            "{err}"
        );

        let by_name = FetchPolicy {
            allow: vec![AllowEntry::parse("LOCALHOST").expect("a host")],
            ..FetchPolicy::default()
        };
        let checked = by_name.check(&url).await.expect("allowed by name");
        assert!(
            checked
                .addrs()
                .iter()
                .all(|a| a.port() == 9 && a.ip().is_loopback())
        );
    }

    #[tokio::test]
    async fn a_checked_host_is_connected_to_at_its_checked_addresses_without_resolving_again() {
        let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
            Ok(listener) => listener,
            Err(e) => panic!("binding a loopback port: {e}"),
        };
        let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
        let app = axum::Router::new().fallback(|| async { "pinned" });
        let server = tokio::spawn(async move { axum::serve(listener, app).await });
        // `.invalid` never resolves: the request succeeds only through the pin, so a second
        // lookup (where a rebinding DNS server would answer differently) never happens.
        let url = Url::parse(&format!("http://rebound.invalid:{port}/x")).expect("a URL");
        let checked = CheckedUrl {
            url: url.clone(),
            domain: Some("rebound.invalid".to_owned()),
            addrs: vec![SocketAddr::from(([127, 0, 0, 1], port))],
        };
        let policy = Arc::new(FetchPolicy::default());
        let client = policy
            .streaming_client(&checked, reqwest::Client::builder())
            .expect("a client");
        let body = match client.get(url).send().await {
            Ok(response) => response.text().await.unwrap_or_default(),
            Err(e) => panic!("the pinned request failed: {}", error_chain(&e)),
        };
        assert_eq!(body, "pinned");

        // Any other name goes through the checking resolver, which refuses loopback.
        let other = Url::parse(&format!("http://localhost:{port}/x")).expect("a URL");
        let err = client.get(other).send().await.expect_err("not pinned");
        let refused = FetchError::find_in(&err).expect("the resolver's refusal");
        assert!(
            refused
                .to_string()
                .starts_with("the host localhost resolves to 127.0.0.1, a loopback address"),
            "{refused}"
        );
        server.abort();
    }

    #[test]
    fn errors_never_show_credentials() {
        let url = Url::parse("https://user:hunter2@example.com/a?b=c").expect("a URL");
        assert_eq!(display_url(&url), "https://example.com/a?b=c");
        assert_eq!(
            redact_raw("http://user:hunter2@exa mple/x"),
            "http://exa mple/x"
        );
        assert_eq!(redact_raw("http://host/a@b"), "http://host/a@b");
        let err = FetchPolicy::parse_url("ftp://user:hunter2@example.com/").expect_err("ftp");
        assert!(!err.to_string().contains("hunter2"), "{err}");
        let err = FetchPolicy::parse_url("http://user:hunter2@[::1").expect_err("invalid");
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[test]
    fn the_config_becomes_a_policy_or_an_error_naming_the_key() {
        let config = FetchConfig {
            allow: vec!["media.internal".into(), "10.1.2.3/24".into()],
            ..FetchConfig::default()
        };
        let err = FetchPolicy::from_config(&config).expect_err("a bad range");
        assert!(
            err.to_string()
                .starts_with("discord.fetch.allow[1]: `10.1.2.3/24` has bits set"),
            "{err}"
        );
        let policy = FetchPolicy::from_config(&FetchConfig::default()).expect("the defaults");
        assert_eq!(policy, FetchPolicy::default());
        assert_eq!(policy.max_bytes, 8 * 1024 * 1024);
        assert_eq!(policy.timeout, Duration::from_secs(10));
        assert!(!policy.allow_private_networks && policy.allow.is_empty());
    }
}
