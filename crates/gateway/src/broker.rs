//! Broker URLs: RabbitMQ's AMQP URI scheme, `amqp://USER:PASSWORD@HOST:PORT/VHOST`
//! (<https://www.rabbitmq.com/docs/uri-spec>), checked when the options are read so that
//! a mistyped URL is a configuration error (exit 2), not a reconnection loop.
//!
//! - user and password default to `guest`; the port to 5672; the virtual host to `/`
//!   (an empty path or `/`), otherwise the path after its first `/`, percent-decoded
//!   (`%2f` is `/`);
//! - `?heartbeat=SECONDS` sets the heartbeat the gateway proposes (default 60); any other
//!   query parameter is refused rather than ignored;
//! - `amqps://` is refused: the gateway speaks plain AMQP and belongs beside its broker
//!   (on loopback or a private network); TLS to a remote broker goes through a local
//!   TLS tunnel.

use std::borrow::Cow;

use amqprs::connection::OpenConnectionArguments;
use percent_encoding::percent_decode_str;

/// A broker URL, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerUrl {
    host: String,
    port: u16,
    user: String,
    password: String,
    vhost: String,
    heartbeat: Option<u16>,
}

/// Why a broker URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UrlError {
    /// Not a URL at all.
    #[error("not a URL: {0}")]
    Syntax(String),
    /// A scheme other than `amqp`.
    #[error(
        "scheme {0}: only amqp:// (the gateway speaks plain AMQP to a broker beside it; use a TLS tunnel for a remote one)"
    )]
    Scheme(String),
    /// No host.
    #[error("no host")]
    NoHost,
    /// A part that is not valid UTF-8 once percent-decoded.
    #[error("{0} is not UTF-8 once percent-decoded")]
    Encoding(&'static str),
    /// A query parameter the gateway does not know, or a value it cannot use.
    #[error("query parameter {0}: only heartbeat=SECONDS (0 to 65535)")]
    Parameter(String),
}

impl BrokerUrl {
    /// Parses `url`.
    pub fn parse(url: &str) -> Result<Self, UrlError> {
        let u = url::Url::parse(url).map_err(|e| UrlError::Syntax(e.to_string()))?;
        if u.scheme() != "amqp" {
            return Err(UrlError::Scheme(u.scheme().to_string()));
        }
        let host = u
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or(UrlError::NoHost)?;
        // An IPv6 literal comes bracketed; the socket address wants it bare.
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let decode = |s: &str, what| -> Result<String, UrlError> {
            percent_decode_str(s)
                .decode_utf8()
                .map(Cow::into_owned)
                .map_err(|_| UrlError::Encoding(what))
        };
        let user = match u.username() {
            "" => "guest".to_string(),
            s => decode(s, "the user")?,
        };
        let password = match u.password() {
            None => "guest".to_string(),
            Some(s) => decode(s, "the password")?,
        };
        let vhost = match u.path() {
            "" | "/" => "/".to_string(),
            p => decode(&p[1..], "the virtual host")?,
        };
        let mut heartbeat = None;
        for (k, v) in u.query_pairs() {
            match (k.as_ref(), v.parse::<u16>()) {
                ("heartbeat", Ok(s)) => heartbeat = Some(s),
                _ => return Err(UrlError::Parameter(format!("{k}={v}"))),
            }
        }
        Ok(Self {
            host,
            port: u.port().unwrap_or(5672),
            user,
            password,
            vhost,
            heartbeat,
        })
    }

    /// The client's arguments to connect.
    pub fn arguments(&self) -> OpenConnectionArguments {
        let mut a = OpenConnectionArguments::new(&self.host, self.port, &self.user, &self.password);
        a.virtual_host(&self.vhost)
            .connection_name("waxseal gateway");
        if let Some(h) = self.heartbeat {
            a.heartbeat(h);
        }
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(u: &BrokerUrl) -> (&str, u16, &str, &str, &str, Option<u16>) {
        (&u.host, u.port, &u.user, &u.password, &u.vhost, u.heartbeat)
    }

    #[test]
    fn urls_as_rabbitmq_reads_them() {
        let u = BrokerUrl::parse("amqp://127.0.0.1:1").unwrap();
        assert_eq!(parts(&u), ("127.0.0.1", 1, "guest", "guest", "/", None));
        let u = BrokerUrl::parse("amqp://u%40x:p%2Fw@broker/%2f").unwrap();
        assert_eq!(parts(&u), ("broker", 5672, "u@x", "p/w", "/", None));
        let u = BrokerUrl::parse("amqp://h:5673/prod?heartbeat=10").unwrap();
        assert_eq!(parts(&u), ("h", 5673, "guest", "guest", "prod", Some(10)));
        let u = BrokerUrl::parse("amqp://[::1]:5672/").unwrap();
        assert_eq!(parts(&u).0, "::1");
    }

    #[test]
    fn what_the_gateway_cannot_use_is_refused() {
        for (url, want) in [
            ("amqps://h/", "scheme amqps"),
            ("http://h/", "scheme http"),
            ("amqp:///vhost", "no host"),
            ("amqp://h/?frame_max=1", "frame_max=1"),
            ("amqp://h/?heartbeat=soon", "heartbeat=soon"),
            ("amqp://h/%ff", "virtual host"),
            ("not a url", "not a URL"),
        ] {
            let e = BrokerUrl::parse(url).unwrap_err().to_string();
            assert!(e.contains(want), "{url}: {e}");
        }
    }
}
