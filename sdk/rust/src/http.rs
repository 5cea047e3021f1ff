//! Outbound HTTP: a small blocking client over `wasi:http/outgoing-handler`.
//!
//! The host lets a module reach only the targets its operator listed in the subnet's
//! `[subnet.capabilities] outbound_hosts` (`scheme://host[:port]`), and bounds the requests of
//! one call (count, response bytes, time). Every refusal is an `Err` whose text names the rule
//! (`outbound_hosts: http://x:80 is not allowed (allowed: ...)`); a subnet with no list gets
//! that refusal for every request. Responses are read whole into memory.
//!
//! ```ignore
//! let price: f64 = subnet_sdk::http::get("https://feed.example.com/price")?.json()?;
//! ```

use wasip2::http::outgoing_handler;
use wasip2::http::types::{ErrorCode, Fields, IncomingBody, Method, OutgoingBody, OutgoingRequest, Scheme};
use wasip2::io::streams::StreamError;

/// A response, read whole.
#[derive(Debug, Clone)]
pub struct Response {
    /// The HTTP status.
    pub status: u16,
    /// Header names (lowercase) and values.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// The body as UTF-8 text (invalid sequences replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, String> {
        serde_json::from_slice(&self.body).map_err(|e| format!("response body is not the JSON expected: {e}"))
    }
}

/// `GET url`.
pub fn get(url: &str) -> Result<Response, String> {
    request("GET", url, &[], None)
}

/// `POST url` with `body` as `content_type`.
pub fn post(url: &str, content_type: &str, body: &[u8]) -> Result<Response, String> {
    request("POST", url, &[("content-type", content_type.as_bytes())], Some(body))
}

fn error_text(e: &ErrorCode) -> String {
    match e {
        // The host's refusals carry the rule in the message.
        ErrorCode::InternalError(Some(message)) => message.clone(),
        other => format!("{other:?}"),
    }
}

/// Sends `method url` with `headers` and an optional `body`; the whole response comes back.
/// `url` is `http://` or `https://`, host, optional port, path and query.
pub fn request(method: &str, url: &str, headers: &[(&str, &[u8])], body: Option<&[u8]>) -> Result<Response, String> {
    let (scheme, rest) = url.split_once("://").ok_or_else(|| format!("`{url}`: expected http:// or https://"))?;
    let scheme = match scheme {
        "http" => Scheme::Http,
        "https" => Scheme::Https,
        other => return Err(format!("`{url}`: scheme `{other}` is not http or https")),
    };
    let split = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(split);
    let path = if path.is_empty() {
        "/".to_owned()
    } else if path.starts_with('?') {
        format!("/{path}")
    } else {
        path.to_owned()
    };

    let fields = Fields::new();
    for (name, value) in headers {
        fields.append(name, value).map_err(|e| format!("header `{name}`: {e:?}"))?;
    }
    let req = OutgoingRequest::new(fields);
    let method = match method {
        "GET" => Method::Get,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "DELETE" => Method::Delete,
        "HEAD" => Method::Head,
        "PATCH" => Method::Patch,
        other => Method::Other(other.to_owned()),
    };
    req.set_method(&method).map_err(|()| "invalid method".to_owned())?;
    req.set_scheme(Some(&scheme)).map_err(|()| "invalid scheme".to_owned())?;
    req.set_authority(Some(authority)).map_err(|()| format!("`{url}`: invalid host"))?;
    req.set_path_with_query(Some(&path)).map_err(|()| format!("`{url}`: invalid path"))?;
    let outgoing = req.body().map_err(|()| "request body taken twice".to_owned())?;
    if let Some(bytes) = body {
        let stream = outgoing.write().map_err(|()| "request body stream taken twice".to_owned())?;
        for chunk in bytes.chunks(4096) {
            stream.blocking_write_and_flush(chunk).map_err(|e| format!("sending the request body: {e:?}"))?;
        }
        drop(stream);
    }
    let pending = outgoing_handler::handle(req, None).map_err(|e| error_text(&e))?;
    OutgoingBody::finish(outgoing, None).map_err(|e| error_text(&e))?;
    pending.subscribe().block();
    let response = match pending.get() {
        Some(Ok(Ok(response))) => response,
        Some(Ok(Err(e))) => return Err(error_text(&e)),
        Some(Err(())) | None => return Err("the response was already taken".to_owned()),
    };
    let status = response.status();
    let headers = response.headers().entries();
    let incoming = response.consume().map_err(|()| "response body taken twice".to_owned())?;
    let stream = incoming.stream().map_err(|()| "response body stream taken twice".to_owned())?;
    let mut body = Vec::new();
    loop {
        match stream.blocking_read(64 << 10) {
            Ok(chunk) => body.extend_from_slice(&chunk),
            Err(StreamError::Closed) => break,
            Err(StreamError::LastOperationFailed(e)) => {
                let code = wasip2::http::types::http_error_code(&e);
                return Err(code.as_ref().map_or_else(|| e.to_debug_string(), error_text));
            }
        }
    }
    drop(stream);
    IncomingBody::finish(incoming);
    Ok(Response { status, headers, body })
}
