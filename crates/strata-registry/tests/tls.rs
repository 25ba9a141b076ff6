//! TLS: a registry serving HTTPS with a certificate from a CA the test makes.
//! A registry treated as secure is only reached when that CA is trusted,
//! through Docker's `certs.d/<host:port>/ca.crt` or an explicit CA file; an
//! insecure one (127.0.0.0/8 by default, as in Docker) is reached anyway.

mod common;

use common::*;
use strata_registry::{PullOpts, PushOpts, RegistryConfig, pull, push};

#[test]
fn pulls_over_tls_trusting_the_test_ca() {
    if !registry_available() {
        return;
    }
    let t = tmp();
    let certs = make_certs(t.path());
    let reg = Registry::start(Auth::None, Some(&certs.tls));
    let a = open_store(t.path(), "a");
    let tag = reg.reference("secure/img:1");
    let img = make_image(&a, &busybox_like(5), "sh", &tag);
    // Secure: loopback is not insecure here, so the certificate must verify.
    let strict = RegistryConfig { insecure_loopback: false, ..config(t.path()) };

    let err =
        push(&a, &tag, &PushOpts { registry: strict.clone(), gzip_level: Some(1) }, &Recorder::default()).unwrap_err();
    let msg = err.to_string();
    eprintln!("untrusted: {msg}");
    assert!(msg.contains(&format!("https://{}/v2/", reg.host)), "{msg}");
    assert!(msg.to_lowercase().contains("certificate"), "{msg}");

    // certs.d/<host:port>/ca.crt, Docker's convention.
    let with_certs_d = strict.clone();
    std::fs::create_dir_all(with_certs_d.certs_d.join(&reg.host)).unwrap();
    std::fs::copy(&certs.ca, with_certs_d.certs_d.join(&reg.host).join("ca.crt")).unwrap();
    push(&a, &tag, &PushOpts { registry: with_certs_d.clone(), gzip_level: Some(1) }, &Recorder::default()).unwrap();
    let b = open_store(t.path(), "b");
    let r = pull(&b, &tag, &PullOpts { registry: with_certs_d, ..Default::default() }, &Recorder::default()).unwrap();
    assert_eq!(r.image.id, img.id);

    // An explicit CA file (--tls-ca, $STRATA_REGISTRY_CA).
    let with_ca = RegistryConfig { ca_files: vec![certs.ca.clone()], ..strict };
    let c = open_store(t.path(), "c");
    assert_eq!(
        pull(&c, &tag, &PullOpts { registry: with_ca, ..Default::default() }, &Recorder::default()).unwrap().image.id,
        img.id
    );

    // Docker's default: 127.0.0.0/8 is insecure, so an unknown CA is accepted.
    let d = open_store(t.path(), "d");
    let r =
        pull(&d, &tag, &PullOpts { registry: config(t.path()), ..Default::default() }, &Recorder::default()).unwrap();
    assert_eq!(r.image.id, img.id);
}
