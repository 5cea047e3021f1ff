//! Chat templates: the Jinja template an instruct model carries (`tokenizer.chat_template` in its
//! GGUF), rendered with minijinja the way Hugging Face's `apply_chat_template` and llama.cpp's
//! server render it: `messages` (an optional system message, then the user's), `bos_token`,
//! `eos_token`, `add_generation_prompt = true`, `raise_exception`, and Python's string methods.
//!
//! Verified family: ChatML (`<|im_start|>role\n…<|im_end|>`, SmolLM2's template, whose default
//! system prompt is inserted when the caller gives none), byte for byte against Python's Jinja2
//! and against llama.cpp's server. Other templates render through the same engine; one that
//! fails to compile is a [`ComputeError::Config`] at load, one that fails on a request (e.g. it
//! raises for a role order) is [`ComputeError::InvalidInput`].
//!
//! Template rendering is bounded: minijinja's fuel caps the instructions one render may run
//! (a template is operator-supplied, but a loop over a long prompt must still end).

use minijinja::{Environment, Error, ErrorKind, context};

use crate::ComputeError;

/// Instructions one render may execute; SmolLM2's template needs a few dozen.
const RENDER_FUEL: u64 = 100_000;

/// A compiled chat template.
pub(crate) struct ChatTemplate {
    env: Environment<'static>,
    bos: String,
    eos: String,
}

fn raise_exception(msg: String) -> Result<String, Error> {
    Err(Error::new(ErrorKind::InvalidOperation, msg))
}

impl ChatTemplate {
    /// Compiles `source`; `bos`/`eos` are the texts the template sees as `bos_token`/`eos_token`.
    pub(crate) fn new(source: &str, bos: &str, eos: &str) -> Result<Self, ComputeError> {
        let mut env = Environment::new();
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function("raise_exception", raise_exception);
        env.set_fuel(Some(RENDER_FUEL));
        // Hugging Face renders with trim_blocks and lstrip_blocks on.
        let syntax = minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()
            .map_err(|e| ComputeError::Config(format!("chat template syntax: {e}")))?;
        env.set_syntax(syntax);
        env.add_template_owned("chat", source.to_string())
            .map_err(|e| ComputeError::Config(format!("chat template does not compile: {e}")))?;
        Ok(ChatTemplate { env, bos: bos.to_string(), eos: eos.to_string() })
    }

    /// The prompt text for one user turn, with an optional system message, ending where the
    /// assistant's answer starts.
    pub(crate) fn render(&self, system: Option<&str>, user: &str) -> Result<String, ComputeError> {
        let mut messages = Vec::with_capacity(2);
        if let Some(s) = system {
            messages.push(context! { role => "system", content => s });
        }
        messages.push(context! { role => "user", content => user });
        let tmpl = self.env.get_template("chat").map_err(|e| ComputeError::Failed(format!("chat template: {e}")))?;
        tmpl.render(context! {
            messages => messages,
            add_generation_prompt => true,
            bos_token => self.bos.clone(),
            eos_token => self.eos.clone(),
        })
        .map_err(|e| ComputeError::InvalidInput(format!("the model's chat template rejected the request: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SmolLM2-135M-Instruct's `tokenizer.chat_template`, copied from its GGUF metadata.
    const SMOLLM2: &str = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

    #[test]
    fn renders_chatml_as_jinja2_does() {
        let t = ChatTemplate::new(SMOLLM2, "<|im_start|>", "<|im_end|>").unwrap();
        // Expected strings: Python jinja2 3.1.6 rendering the same template and messages.
        assert_eq!(
            t.render(None, "Hi there").unwrap(),
            "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n\
             <|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n"
        );
        assert_eq!(
            t.render(Some("Be brief."), "2+2?").unwrap(),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n"
        );
    }

    #[test]
    fn python_methods_and_raise_exception_work() {
        let src = "{% if messages[0]['role'] == 'system' %}{{ raise_exception('no system') }}{% endif %}\
                   {{ messages[0]['content'].strip() }}";
        let t = ChatTemplate::new(src, "", "").unwrap();
        assert_eq!(t.render(None, "  x  ").unwrap(), "x");
        assert!(matches!(t.render(Some("s"), "u"), Err(ComputeError::InvalidInput(m)) if m.contains("no system")));
        assert!(matches!(ChatTemplate::new("{% for %}", "", ""), Err(ComputeError::Config(_))));
    }

    #[test]
    fn a_runaway_template_runs_out_of_fuel() {
        let t = ChatTemplate::new(
            "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
            "",
            "",
        )
        .unwrap();
        assert!(t.render(None, "u").is_err());
    }
}
