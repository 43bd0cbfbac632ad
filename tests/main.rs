//! The integration tests, one binary: each file below is a module, all share `common` (the
//! in-process stack and the helpers that run the real binary). One binary instead of one per
//! file: the tests link once (each link was ~450 MB of debug test executable, 29 of them), which
//! keeps a clean CI build small on disk and minutes shorter.

mod common;

mod app_image;
mod audit;
mod browser;
mod calibrate;
mod cdn;
mod checksums;
mod cleanup_and_errors;
mod cli;
mod client;
mod container;
mod cors;
mod crash_recovery;
mod deploy;
mod events;
mod gate;
mod hardening;
mod hostile_clients;
mod http2;
mod layers;
mod live;
mod minio;
mod multipart;
mod presign;
mod reads;
mod refused_writes;
mod rehearsal;
mod report;
mod results;
mod run;
mod scan;
mod scenarios;
mod servers;
mod shards;
mod tls;
