//! Bedside's cross-crate integration tests: one binary, one module per concern.

mod browser;
mod chat;
mod crash;
mod desktop;
mod firefox;
mod logs;
mod media;
mod network;
mod patient;
mod tidy;
mod webdriver;
mod webkit;
