//! The documents as a newcomer meets them: README one page, BENCHMARKS short, and every
//! relative link between them (and to the code) pointing at something that exists,
//! down to the heading an anchor names.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn documents() -> Vec<PathBuf> {
    let mut docs = vec![root().join("README.md"), root().join("BENCHMARKS.md")];
    let mut pages: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
        .collect();
    pages.sort();
    docs.extend(pages);
    docs
}

/// The targets of `[text](target)` links, outside code blocks.
fn links(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_code = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        let mut rest = line;
        while let Some(start) = rest.find("](") {
            let after = &rest[start + 2..];
            let Some(end) = after.find(')') else { break };
            out.push(after[..end].to_owned());
            rest = &after[end..];
        }
    }
    out
}

/// GitHub's anchor for a heading: lowercase, punctuation dropped, spaces to dashes.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

fn anchors(text: &str) -> Vec<String> {
    text.lines().filter(|l| l.starts_with('#')).map(|l| anchor(l.trim_start_matches('#'))).collect()
}

#[test]
fn readme_and_benchmarks_stay_short() {
    let lines = |name: &str| std::fs::read_to_string(root().join(name)).unwrap().lines().count();
    assert!(lines("README.md") <= 250, "README.md has {} lines", lines("README.md"));
    assert!(lines("BENCHMARKS.md") <= 120, "BENCHMARKS.md has {} lines", lines("BENCHMARKS.md"));
}

#[test]
fn every_relative_link_and_anchor_resolves() {
    let mut checked = 0;
    for doc in documents() {
        let text = std::fs::read_to_string(&doc).unwrap();
        for link in links(&text) {
            if link.starts_with("http://") || link.starts_with("https://") || link.starts_with("mailto:") {
                continue;
            }
            let (path, fragment) = link.split_once('#').map_or((link.as_str(), None), |(p, f)| (p, Some(f)));
            let target = if path.is_empty() { doc.clone() } else { doc.parent().unwrap().join(path) };
            assert!(target.exists(), "{}: link {link:?} points at nothing", doc.display());
            if let Some(fragment) = fragment.filter(|_| target.extension().is_some_and(|e| e == "md")) {
                let headings = anchors(&std::fs::read_to_string(&target).unwrap());
                assert!(headings.contains(&fragment.to_owned()), "{}: no heading for {link:?}", doc.display());
            }
            checked += 1;
        }
    }
    assert!(checked > 20, "only {checked} links found");
}
