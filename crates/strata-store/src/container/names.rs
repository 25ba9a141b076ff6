//! Container names: Docker's validation and its `adjective_surname` generator.

/// Docker's rule: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
pub fn valid(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && name.len() >= 2
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

const LEFT: &[&str] = &[
    "admiring", "adoring", "affectionate", "agitated", "amazing", "angry", "awesome", "beautiful", "blissful", "bold",
    "boring", "brave", "busy", "charming", "clever", "compassionate", "competent", "confident", "cool", "cranky",
    "crazy", "dazzling", "determined", "distracted", "dreamy", "eager", "ecstatic", "elastic", "elated", "elegant",
    "eloquent", "epic", "exciting", "fervent", "festive", "flamboyant", "focused", "friendly", "frosty", "funny",
    "gallant", "gifted", "goofy", "gracious", "great", "happy", "hardcore", "heuristic", "hopeful", "hungry",
    "infallible", "inspiring", "intelligent", "interesting", "jolly", "jovial", "keen", "kind", "laughing", "loving",
    "lucid", "magical", "modest", "musing", "mystifying", "naughty", "nervous", "nice", "nifty", "nostalgic",
    "objective", "optimistic", "peaceful", "pedantic", "pensive", "practical", "priceless", "quirky", "quizzical",
    "recursing", "relaxed", "reverent", "romantic", "sad", "serene", "sharp", "silly", "sleepy", "stoic", "strange",
    "stupefied", "suspicious", "sweet", "tender", "thirsty", "trusting", "unruffled", "upbeat", "vibrant", "vigilant",
    "vigorous", "wizardly", "wonderful", "xenodochial", "youthful", "zealous", "zen",
];

const RIGHT: &[&str] = &[
    "albattani", "allen", "almeida", "archimedes", "ardinghelli", "babbage", "banach", "bardeen", "bartik", "bell",
    "benz", "bhabha", "blackwell", "bohr", "booth", "borg", "bose", "brahmagupta", "brattain", "brown", "carson",
    "chandrasekhar", "clarke", "colden", "cori", "curie", "darwin", "davinci", "dijkstra", "dubinsky", "easley",
    "einstein", "elion", "engelbart", "euclid", "euler", "fermat", "fermi", "feynman", "franklin", "galileo",
    "gates", "goldberg", "goldstine", "goodall", "hamilton", "hawking", "heisenberg", "hodgkin", "hopper", "hypatia",
    "jackson", "jennings", "johnson", "kalam", "keller", "kepler", "khorana", "knuth", "lalande", "lamarr",
    "leakey", "leavitt", "lovelace", "lumiere", "mahavira", "mayer", "mccarthy", "mclean", "meitner", "mendel",
    "merkle", "morse", "newton", "nobel", "noether", "pare", "pascal", "pasteur", "payne", "perlman", "pike",
    "poincare", "ptolemy", "raman", "ramanujan", "ride", "ritchie", "roentgen", "rosalind", "saha", "sammet",
    "shannon", "shirley", "sinoussi", "snyder", "spence", "stonebraker", "swanson", "tesla", "thompson", "torvalds",
    "turing", "varahamihira", "visvesvaraya", "volhard", "wescoff", "wilbur", "williams", "wilson", "wing", "wozniak",
    "wright", "yalow", "yonath",
];

/// A random `adjective_surname`; `retry` > 0 appends a digit, as Docker does on collisions.
pub fn generate(retry: u32) -> String {
    let r = strata_sys::random_id();
    let a = usize::from_str_radix(&r[..8], 16).unwrap_or(0) % LEFT.len();
    let b = usize::from_str_radix(&r[8..16], 16).unwrap_or(0) % RIGHT.len();
    let mut name = format!("{}_{}", LEFT[a], RIGHT[b]);
    if name == "boring_wozniak" {
        // Steve Wozniak is not boring (Docker's own exception).
        name = "admiring_wozniak".into();
    }
    if retry > 0 {
        name.push_str(&(usize::from_str_radix(&r[16..18], 16).unwrap_or(0) % 10).to_string());
    }
    name
}

#[cfg(test)]
mod tests {
    #[test]
    fn docker_name_rules() {
        assert!(super::valid("web1"));
        assert!(super::valid("a.b_c-d"));
        assert!(!super::valid("-x"));
        assert!(!super::valid("x"));
        assert!(!super::valid("a/b"));
        assert!(super::valid(&super::generate(0)));
        assert!(super::valid(&super::generate(3)));
    }
}
