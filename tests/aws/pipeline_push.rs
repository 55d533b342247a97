//! `tidemark pipeline push`: the pipeline file checked, then put into the stack's
//! bucket with a SigV4-signed request (the local binary links no AWS SDK), where the
//! functions read it; a file that does not check is not uploaded.

use std::path::PathBuf;

use tidemark::pipeline::{push_with, PushArgs};
use tidemark_aws::emulator::Emulator;
use tidemark_aws::{provision, S3ObjectStore};
use tidemark_core::batch::Pipeline;
use tidemark_core::ports::ObjectStore;

fn example() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/shop/tidemark.toml"))
}

#[tokio::test]
#[ignore = "needs the AWS emulators: pip install 'moto[server]' osmem-server cargo-lambda; run with -- --include-ignored"]
async fn a_checked_pipeline_file_is_uploaded_where_the_functions_read_it() {
    let moto = Emulator::moto();
    let clients = moto.clients().await;
    provision::bucket(&clients, "stack-interim").await.unwrap();
    let api = moto.aws_api();
    let bucket = S3ObjectStore::new(clients.s3.clone(), "stack-interim", "");
    let key = "pipeline/tidemark.toml";
    let args = |file: PathBuf| PushArgs { file, bucket: "stack-interim".into(), key: key.into() };

    push_with(&args(example()), &api).await.unwrap();
    let uploaded = bucket.get(key).await.unwrap().expect("the object is there");
    assert_eq!(uploaded, std::fs::read(example()).unwrap(), "uploaded unchanged");
    let pipeline = Pipeline::parse(std::str::from_utf8(&uploaded).unwrap()).unwrap();
    assert_eq!(pipeline.sources.len(), 5, "the functions parse what was pushed");

    // A file that does not check replaces nothing.
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.toml");
    std::fs::write(&broken, "[[source]]\nname = \"x\"\nkind = \"dynamodb\"\n").unwrap();
    let err = push_with(&args(broken), &api).await.unwrap_err();
    assert!(format!("{err:#}").contains("needs table"), "{err:#}");
    assert_eq!(bucket.get(key).await.unwrap().unwrap(), uploaded);

    // A bucket that does not exist is a clear refusal, not a silent success.
    let missing = PushArgs { bucket: "no-such-bucket".into(), ..args(example()) };
    let err = push_with(&missing, &api).await.unwrap_err();
    assert!(format!("{err:#}").contains("NoSuchBucket"), "{err:#}");
}
