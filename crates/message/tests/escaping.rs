//! A rejection's text can carry attacker-controlled strings (topics, subjects, details):
//! its `Display` escapes control and bidi characters, so logging it is one line.

use waxseal_message::{Class, Rejection, Stage};

fn rejection(reason: &str) -> Rejection {
    Rejection {
        stage: Stage::Authorization,
        code: "routing-policy-denied".into(),
        reason: reason.into(),
        hop: None,
        class: Class::Permanent,
        kind: None,
    }
}

#[test]
fn a_rejection_displays_as_one_escaped_line() {
    let r = rejection("topic a.b\nINFO accepted\x1b[2K\u{202e} is not allowed");
    let shown = r.to_string();
    assert_eq!(shown.lines().count(), 1, "{shown:?}");
    assert!(
        !shown.contains('\x1b') && !shown.contains('\u{202e}'),
        "{shown:?}"
    );
    assert!(
        shown.contains("a.b\\u{a}INFO accepted\\u{1b}[2K\\u{202e}"),
        "{shown}"
    );
    // The field itself is unchanged (JSON reports escape it their own way).
    assert!(r.reason.contains('\n'));
}

#[test]
fn a_plain_rejection_displays_unchanged() {
    let r = rejection("topic a.b is not allowed for CN=x,O=Example");
    assert_eq!(r.to_string(), "topic a.b is not allowed for CN=x,O=Example");
}

#[test]
fn entity_errors_escape_subjects() {
    let e = waxseal_entity::EntityError::NoMatch {
        subject: "CN=x\u{85}INFO ok".into(),
    };
    assert!(e.to_string().contains("CN=x\\u{85}INFO ok"), "{e}");
    let e = waxseal_entity::EntityError::NoMatch {
        subject: "CN=x".into(),
    };
    assert_eq!(e.to_string(), "no entity rule matches certificate CN=x");
}
