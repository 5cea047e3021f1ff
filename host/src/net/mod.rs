//! Networking between validators and miners over HTTP (being written).
