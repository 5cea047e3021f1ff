//! Semantic-subnet reference miner: restates a sentence by swapping words for synonyms.
use subnet_sdk::prelude::*;

const SYNONYMS: &[(&str, &str)] = &[
    ("cat", "kitten"),
    ("sleeping", "napping"),
    ("sofa", "couch"),
    ("warm", "cozy"),
    ("strong", "powerful"),
    ("knocked", "blew"),
    ("old", "ancient"),
    ("bought", "purchased"),
    ("fresh", "freshly baked"),
    ("small", "little"),
    ("children", "kids"),
    ("playing", "playing a game of"),
    ("quickly", "swiftly"),
    ("fixed", "repaired"),
    ("broken", "damaged"),
    ("leaves", "departs"),
    ("city", "town"),
    ("early", "at dawn"),
    ("heavy", "torrential"),
    ("flooded", "submerged"),
    ("narrow", "tight"),
    ("streets", "roads"),
    ("cooked", "prepared"),
    ("large", "big"),
    ("walks", "strolls with"),
    ("evening", "night"),
    ("bright", "brilliant"),
    ("lit", "illuminated"),
    ("quiet", "still"),
    ("students", "pupils"),
    ("finished", "completed"),
    ("difficult", "hard"),
    ("repaired", "mended"),
    ("leaking", "dripping"),
    ("brother", "sibling"),
    ("friends", "guests"),
];

struct Restater;

impl Miner for Restater {
    type Task = String;
    type Answer = String;

    fn answer(_request: &MinerRequest, sentence: String) -> Result<String, String> {
        Ok(sentence
            .split(' ')
            .map(|word| {
                let bare = word.trim_end_matches(['.', ',']);
                let tail = &word[bare.len()..];
                let lower = bare.to_lowercase();
                match SYNONYMS.iter().find(|(w, _)| *w == lower) {
                    Some((_, s)) => format!("{s}{tail}"),
                    None => word.to_string(),
                }
            })
            .collect::<Vec<_>>()
            .join(" "))
    }
}

export_miner!(Restater);
