fn main() { eprintln!("fanout bench: being written"); }
