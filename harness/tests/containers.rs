//! The containers backend's own promises. Nothing of a run outlives it: an `interop up` process leaves no container
//! and no network behind, whether it ends normally (its stack is dropped) or is killed (its reaper removes them, as
//! it does for stacks held in a `static`, which are never dropped). A service that dies before READY is reported
//! with its exit code and its last words, and its container is removed.
//!
//! These need a Docker engine and the images (`make images`): `make test-containers` runs them.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use futures::StreamExt;
use testcontainers::bollard::query_parameters::{
    EventsOptionsBuilder, InspectContainerOptions, InspectNetworkOptions,
};

/// Starts `interop up` (Catalog in Python, Discount in Rust, containers) and returns it with its description.
fn up() -> (Child, serde_json::Value) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_interop"))
        .args(["up", "--catalog", "python", "--discount", "rust"])
        .env("INTEROP_BACKEND", "containers")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("interop up runs");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout is piped"))
        .read_line(&mut line)
        .expect("interop up writes its stack");
    let description: serde_json::Value = serde_json::from_str(&line)
        .unwrap_or_else(|e| panic!("interop up did not describe a stack ({e}): {line:?}"));
    (child, description)
}

/// The containers and the network of a described stack.
fn things(description: &serde_json::Value) -> (Vec<String>, String) {
    let containers = description["services"]
        .as_object()
        .expect("services")
        .values()
        .map(|s| {
            let peer = s["container"].as_str().expect("a container per service");
            peer.split(':').next().expect("name:port").to_string()
        })
        .collect();
    let network = description["network"]
        .as_str()
        .expect("a network")
        .to_string();
    (containers, network)
}

/// Runs `end` and waits for the engine to report every one of `containers` and `network` destroyed; with
/// `at_once`, they must already be gone when `end` returns.
fn assert_removed_after(
    containers: Vec<String>,
    network: String,
    at_once: bool,
    end: impl FnOnce(),
) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let docker = interop::docker::client().expect("a Docker client");
        // Events from before the end on, so that none can slip by unseen (the request goes out on first poll).
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_secs()
            - 1;
        let mut names = containers.clone();
        names.push(network.clone());
        let filters = HashMap::from([("event", vec!["destroy".to_string()])]);
        let options = EventsOptionsBuilder::new()
            .since(&since.to_string())
            .filters(&filters)
            .build();
        let mut events = docker.events(Some(options));
        end();
        if at_once {
            for container in &containers {
                let found = docker
                    .inspect_container(container, None::<InspectContainerOptions>)
                    .await;
                assert!(found.is_err(), "{container} outlived its stack");
            }
        }
        let mut left = names.clone();
        let waited = tokio::time::timeout(Duration::from_secs(60), async {
            while !left.is_empty() {
                let event = events
                    .next()
                    .await
                    .expect("the event stream goes on")
                    .expect("an event");
                let actor = event.actor.unwrap_or_default();
                let name = actor
                    .attributes
                    .unwrap_or_default()
                    .remove("name")
                    .unwrap_or_default();
                left.retain(|n| *n != name);
            }
        })
        .await;
        assert!(waited.is_ok(), "still there a minute later: {left:?}");
        for container in &containers {
            let found = docker
                .inspect_container(container, None::<InspectContainerOptions>)
                .await;
            assert!(found.is_err(), "{container} is still there");
        }
        assert!(
            docker
                .inspect_network(&network, None::<InspectNetworkOptions>)
                .await
                .is_err(),
            "{network} is still there"
        );
    });
}

#[test]
#[ignore = "needs a Docker engine and the images: make test-containers"]
fn a_stack_that_ends_normally_is_removed() {
    let (mut child, description) = up();
    let (containers, network) = things(&description);
    assert_eq!(containers.len(), 2, "{description}");
    assert_removed_after(containers, network, true, move || {
        // End of stdin: `interop up` drops its stack and exits.
        drop(child.stdin.take());
        let status = child.wait().expect("interop up ends");
        assert!(status.success(), "interop up failed: {status}");
    });
}

#[test]
#[ignore = "needs a Docker engine and the images: make test-containers"]
fn a_killed_process_leaves_nothing_behind() {
    let (mut child, description) = up();
    let (containers, network) = things(&description);
    assert_removed_after(containers, network, false, move || {
        // SIGKILL: no destructor runs; only the reaper can clean up.
        child.kill().expect("interop up is killed");
        child.wait().expect("interop up is reaped");
    });
}

#[test]
#[ignore = "needs a Docker engine and the images: make test-containers"]
fn a_service_that_exits_before_ready_says_why() {
    use interop::backend::containers::{self, Container, Network};
    use interop::{Lang, Service, images};

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        containers::prepare().await.expect("the engine answers");
        let image = images::ensure_async(Lang::named("rust"))
            .await
            .expect("the Rust image");
        let id = containers::stack_id();
        let network = Network::create(&id).await.expect("a network");
        let name = containers::container_name(&id, Service::Discount);
        // A certificate that is not there: the service refuses to start (exit 2, one line saying why).
        let launch = containers::launch(Service::Discount, Lang::named("rust"))
            .unwrap()
            .args([
                "--tls-cert",
                "/nowhere/discount.pem",
                "--tls-key",
                "/nowhere/discount-key.pem",
            ]);
        let error = match Container::spawn(launch, &name, &network, &image).await {
            Ok(_) => panic!("discount started without its certificate"),
            Err(e) => format!("{e:#}"),
        };
        // What a person reads (shown with --nocapture).
        eprintln!("{error}");
        for expected in [
            "discount (rust)",
            &name,
            "exit code 2",
            "--tls-cert",
            "/nowhere/discount.pem",
        ] {
            assert!(
                error.contains(expected),
                "the error does not mention {expected:?}:\n{error}"
            );
        }
        let docker = interop::docker::client().expect("a Docker client");
        let found = docker
            .inspect_container(&name, None::<InspectContainerOptions>)
            .await;
        assert!(found.is_err(), "{name} outlived its failure");
    });
}
