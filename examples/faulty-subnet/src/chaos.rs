//! Seeded random values of every type the validator world returns (mode `chaos:<seed>`).
//!
//! The PRNG is the module's own (splitmix64), seeded from the mode text and a per-export
//! stream number, so a seed names one exact set of outputs whatever the host's randomness.

use subnet_sdk::prelude::*;

/// The seed of a `chaos:<seed>` mode.
pub fn seed(mode: &str) -> Option<u64> {
    mode.strip_prefix("chaos:")?.parse().ok()
}

/// The seed of the store's mode, when it is a chaos mode.
pub fn current_seed() -> Option<u64> {
    let mode = kv::get("faulty/mode").ok().flatten()?;
    seed(std::str::from_utf8(&mode).ok()?)
}

pub struct Chaos(u64);

impl Chaos {
    pub fn new(seed: u64, stream: u64) -> Self {
        Chaos(seed ^ stream.wrapping_mul(0xa076_1d64_78bd_642f))
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn uid(&mut self) -> u16 {
        match self.below(4) {
            0 => u16::MAX,
            1 => self.below(65_536) as u16,
            _ => self.below(12) as u16,
        }
    }

    fn f64(&mut self) -> f64 {
        match self.below(10) {
            0 => f64::NAN,
            1 => f64::INFINITY,
            2 => f64::NEG_INFINITY,
            3 => -(self.below(1000) as f64),
            4 => f64::MAX,
            5 => f64::MIN_POSITIVE,
            6 => f64::from_bits(self.next()),
            _ => self.below(1_000_001) as f64 / 1e6,
        }
    }

    fn u32(&mut self) -> u32 {
        match self.below(4) {
            0 => 0,
            1 => u32::MAX,
            _ => self.below(60_000) as u32,
        }
    }

    fn text(&mut self) -> String {
        let len = match self.below(8) {
            0 => 0,
            1 => 4096 + self.below(60_000) as usize,
            _ => self.below(40) as usize,
        };
        let mut s = String::with_capacity(len);
        for _ in 0..len {
            let c = match self.below(6) {
                0 => char::from_u32(self.below(0x11_0000) as u32).unwrap_or('\u{fffd}'),
                1 => '\0',
                2 => '\n',
                _ => (b'a' + self.below(26) as u8) as char,
            };
            s.push(c);
        }
        s
    }

    fn list_len(&mut self) -> usize {
        match self.below(8) {
            0 => 0,
            1 => 1000 + self.below(5000) as usize,
            _ => self.below(16) as usize,
        }
    }

    pub fn tasks(&mut self) -> Result<Vec<TaskSpec<String>>, String> {
        if self.chance(5) {
            return Err(self.text());
        }
        let n = match self.below(8) {
            0 => 0,
            1 => 300,
            _ => self.below(8) as usize,
        };
        let mut tasks = Vec::with_capacity(n);
        for i in 0..n {
            let id = if self.chance(20) { format!("dup-{}", i % 2) } else { self.text() };
            let miners = (0..self.list_len().min(300)).map(|_| self.uid()).collect();
            let task = TaskSpec::new(id, miners, self.text());
            tasks.push(if self.chance(50) { task.timeout_ms(self.u32()) } else { task });
        }
        Ok(tasks)
    }

    pub fn scores(&mut self, answers: &[Answer<Payload>]) -> Result<Vec<Score>, String> {
        if self.chance(5) {
            return Err(self.text());
        }
        let mut scores = Vec::new();
        for a in answers {
            if self.chance(70) {
                scores.push(self.score(a.uid));
            }
        }
        for _ in 0..self.list_len() {
            let uid = self.uid();
            scores.push(self.score(uid));
        }
        Ok(scores)
    }

    fn score(&mut self, uid: u16) -> Score {
        let mut score = Score::new(uid, self.f64());
        for _ in 0..self.below(4) {
            let name = self.text();
            score = score.metric(name, self.f64());
        }
        score
    }

    pub fn reward(&mut self) -> Result<RewardResult, String> {
        if self.chance(5) {
            return Err(self.text());
        }
        let state = (0..self.list_len())
            .map(|_| UidState { uid: self.uid(), hotkey: self.text(), score: self.f64(), rounds: self.u32() })
            .collect();
        let weights = (0..self.list_len()).map(|_| Weight { uid: self.uid(), value: self.f64() }).collect();
        Ok(RewardResult { state, weights })
    }
}
