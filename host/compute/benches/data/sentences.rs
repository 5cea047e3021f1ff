//! The benchmark sentences shared by the compute benches (the crate's own and the host's
//! through-a-module one), so both embed exactly the same texts.

/// 64 distinct sentences of ordinary length (8 to 20 words), deterministic.
pub fn sentences() -> Vec<String> {
    let subjects = [
        "A man",
        "The validator",
        "A small dog",
        "Two miners",
        "The translator",
        "A child",
        "The network",
        "An old woman",
    ];
    let verbs = ["is reading", "scores", "is chasing", "submit", "translates", "draws", "rewards", "is painting"];
    let objects = [
        "a long letter about the weather in the mountains",
        "the answers of every miner in the subnet",
        "a red ball across the green park",
        "their proofs of work before the epoch ends",
        "a short story from French into English",
        "a picture of a house with a blue door",
        "honest participants with more emission",
        "the harbour at sunset with quick strokes",
    ];
    let mut out = Vec::new();
    for (i, s) in subjects.iter().enumerate() {
        for j in 0..8 {
            out.push(format!("{s} {} {}.", verbs[(i + j) % 8], objects[j]));
        }
    }
    out
}
