//! A signed oslo.messaging-style RPC flow over a real RabbitMQ broker: a compute node
//! casts `select_destinations` to the conductor, which verifies, countersigns and
//! forwards it to the scheduler, which verifies the route and authorizes the request.
//! A second compute node then tries to speak for the first and is refused.
//!
//! `AMQP_ADDR=amqp://guest:guest@127.0.0.1:5672/%2f cargo run -p waxseal-examples --example oslo_rpc`

mod flow;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let addr = std::env::var("AMQP_ADDR")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into());
    let dir = tempfile::tempdir()?;
    let verdicts = flow::run(&addr, dir.path()).await?;
    for origin in [flow::NODE1, flow::NODE2] {
        match verdicts.get(origin) {
            Some(Ok(entity)) => {
                println!("{origin}: accepted by the scheduler, origin entity {entity}")
            }
            Some(Err(code)) => println!("{origin}: refused by the scheduler ({code})"),
            None => println!("{origin}: no verdict from the scheduler"),
        }
    }
    Ok(())
}
