//! The Rust Catalog against a Discount that is not ours: a grpcio server written the tutorial's way (synchronous,
//! thread pool, decimal maths; `implementations/tutorial-grpcio/tutorial_server.py`), over TLS. It must answer user 1 with
//! exactly the bytes of the shared `user_1` snapshot, which holds the tutorial's sample values.

use interop::backend::Launch;
use interop::backend::local::Process;
use interop::certs::{CLIENT_IDENTITY, Pki};
use interop::clients::ClientSecurity;
use interop::{Lang, Security, Service, python, workspace};

#[tokio::test]
async fn rust_catalog_against_the_tutorial_grpcio_server() {
    let pki = Pki::temporary(&["discount", "catalog", CLIENT_IDENTITY]).unwrap();
    let path = |p: &std::path::Path| p.display().to_string();
    let (discount_cert, discount_key) = pki.identity("discount").unwrap();
    let (catalog_cert, catalog_key) = pki.identity("catalog").unwrap();

    let env = python::ensure().unwrap();
    let tutorial = Launch::on_host(Service::Discount, Lang::named("python"), path(&env.python))
        .args([
            path(&workspace::root().join("implementations/tutorial-grpcio/tutorial_server.py")),
            "--tls-cert".into(),
            path(discount_cert),
            "--tls-key".into(),
            path(discount_key),
        ])
        .env("PYTHONUNBUFFERED", "1");
    let tutorial = Process::spawn(tutorial, 0)
        .await
        .expect("the tutorial server starts");

    let catalog = Launch::on_host(
        Service::Catalog,
        Lang::named("rust"),
        path(&workspace::rust_binary("catalog").unwrap()),
    )
    .args([
        "--tls-cert".into(),
        path(catalog_cert),
        "--tls-key".into(),
        path(catalog_key),
        "--ca".into(),
        path(&pki.ca_path()),
        "--discount-addr".into(),
        tutorial.addr().to_string(),
        "--discount-server-name".into(),
        "discount".into(),
    ]);
    let catalog = Process::spawn(catalog, 0)
        .await
        .expect("the Rust catalog starts");

    let client = ClientSecurity::new(Security::Tls, &pki)
        .unwrap()
        .http()
        .unwrap();
    let response = client
        .get(format!("https://{}/products", catalog.addr()))
        .header("X-USER-ID", "1")
        .send()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "GET /products: {e:#}\n{}\n{}",
                catalog.describe_tail(),
                tutorial.describe_tail()
            )
        });
    assert_eq!(response.status(), 200);
    let body = response.text().await.unwrap();

    let snapshot =
        std::fs::read_to_string(workspace::root().join("tests/snapshots/catalog__user_1.snap"))
            .unwrap();
    let (head, expected) = snapshot
        .rsplit_once("\n\n")
        .expect("the snapshot has a body");
    assert_eq!(
        body.trim_end(),
        expected.trim_end(),
        "the Rust catalog priced by the tutorial's server differs from the shared user_1 snapshot\n{}",
        catalog.describe_tail()
    );
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("length: "))
        .expect("the snapshot has a length");
    assert_eq!(
        body.len().to_string(),
        length,
        "the body, final newline included, is as long as the snapshot says"
    );
}
