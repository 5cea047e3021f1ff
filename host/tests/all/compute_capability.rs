//! The compute capability through real modules: a subnet scoring with a real embedding model
//! (all-MiniLM-L6-v2 via candle) in the sandbox, and the capability's refusals.

use crate::common;

use std::sync::Arc;

use subnet_host::bindings::types::{EpochContext, MinerResponse, ResponseStatus, Task};
use subnet_host::caps::metagraph::MetagraphView;
use subnet_host::runtime::CallEnv;
use subnet_host::runtime::CallError;
use subnet_host::sandbox::SandboxConfig;

const MINILM: &str = "all-minilm-l6-v2";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subnet_scored_by_a_real_model_pays_honest_miners() {
    let bundle = common::bundle("examples/semantic-subnet");
    assert_eq!(bundle.compute_models, vec![MINILM.to_string()]);
    let report = common::sandbox(&bundle, SandboxConfig { miners: 6, epochs: 2, seed: 4, ..Default::default() }).await;
    let last = report.epochs.last().unwrap();
    for n in last.neurons.iter().filter(|n| n.kind == "miner") {
        match n.role.as_str() {
            // A paraphrase by synonyms stays close to the sentence in embedding space.
            "honest" => assert!(n.score > 0.1 && n.weight > 0.2, "uid {}: {n:?}", n.uid),
            // The copycat's verbatim answers and the others' noise score nothing.
            _ => assert_eq!(n.weight, 0.0, "{} uid {}", n.role, n.uid),
        }
    }
    assert!(report.honest_miner_share() > 0.999);
}

fn ctx() -> EpochContext {
    common::context(1)
}

fn task_and_answer() -> (Task, Vec<MinerResponse>) {
    let text = common::text;
    let task = Task { id: "t".into(), miners: vec![1], payload: text("The cat sleeps."), timeout_ms: 1000 };
    let answer =
        MinerResponse { uid: 1, status: ResponseStatus::Ok, latency_ms: 5, payload: Some(text("A kitten naps.")) };
    (task, vec![answer])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn models_are_reachable_only_when_granted() {
    let runtime = common::runtime();
    let bundle = common::bundle("examples/semantic-subnet");
    let module = runtime.load_validator("semantic", &common::read(&bundle.validator)).unwrap();
    let (task, answers) = task_and_answer();
    let env = CallEnv::new("t", 1, Arc::new(MetagraphView::default()));

    // No compute granted: the module's call gets `not-available`, which it reports as an error.
    let err = module.score(&env, &ctx(), &task, &answers).await.unwrap_err();
    assert!(matches!(&err, CallError::Guest { message, .. } if message.contains("NotAvailable")), "{err}");

    // Another model granted (the host has MiniLM, but not for this subnet): `unknown-model`.
    let image_only = common::compute(&["efficientnet-lite0"]);
    let env_other = env.with_subnet(|s| s.caps.compute = Some(image_only));
    let err = module.score(&env_other, &ctx(), &task, &answers).await.unwrap_err();
    assert!(matches!(&err, CallError::Guest { message, .. } if message.contains("UnknownModel")), "{err}");

    // Granted: a real similarity.
    let env_ok = env.with_subnet(|s| s.caps.compute = Some(common::compute(&[MINILM])));
    let scores = module.score(&env_ok, &ctx(), &task, &answers).await.unwrap();
    assert!(scores[0].score > 0.3, "{scores:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cost_of_model_calls_is_in_the_daemon_metrics() {
    let registry = subnet_host::models::ModelRegistry::discover(&common::root()).unwrap();
    let specs = registry.select(&[MINILM.to_string()]).unwrap();
    let service =
        subnet_compute::ComputeService::start(subnet_compute::ComputeConfig { models: specs, ..Default::default() })
            .expect("run scripts/setup.sh for the model");
    let metrics = subnet_host::daemon::metrics::Metrics::with_compute(Some(service.clone()));
    service.embed_text(MINILM, vec!["one".into(), "two".into()]).await.unwrap();
    service.embed_text(MINILM, vec!["three".into()]).await.unwrap();
    let text = metrics.encode();
    let series = format!("{{model=\"{MINILM}\",kind=\"text-embedding\",device=\"{}\"}}", service.device());
    assert!(text.contains(&format!("subnetd_compute_calls_total{series} 2")), "{text}");
    assert!(text.contains(&format!("subnetd_compute_items_total{series} 3")), "{text}");
    let busy = text
        .lines()
        .find(|l| l.starts_with(&format!("subnetd_compute_busy_seconds_total{series}")))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse::<f64>().ok())
        .expect("busy seconds series");
    assert!(busy > 0.0, "{text}");
}
