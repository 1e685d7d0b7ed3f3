//! Rows of the tutorial's `github` table, generated deterministically in
//! ClickHouse's JSON export conventions (UInt64 quoted, `1970-01-01
//! 00:00:00` for empty dates), like the tutorial's github_all_columns.ndjson.

use serde_json::json;

const EVENTS: [&str; 8] = [
    "PushEvent",
    "CreateEvent",
    "IssuesEvent",
    "PullRequestEvent",
    "WatchEvent",
    "ForkEvent",
    "IssueCommentEvent",
    "CommitCommentEvent",
];
const ACTIONS: [&str; 5] = ["none", "created", "opened", "closed", "merged"];
const REPOS: [&str; 3] = [
    "ClickHouse/ClickHouse",
    "yandex/ClickHouse",
    "ClickHouse/kafka-samples",
];
const LABELS: [&str; 4] = ["comp-kafka", "can be tested", "documentation", "bug"];

/// Row `i` of a data set identified by `seed`.
pub fn row(seed: u64, i: u64) -> String {
    // A small LCG keeps the rows varied and reproducible without a crate.
    let mut x = seed
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(i.wrapping_mul(1_442_695_040_888_963_407));
    let mut next = |n: u64| {
        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        (x >> 33) % n
    };
    let created = 1_297_468_800 + i * 7 + next(7);
    let time = |t: u64| {
        chrono::DateTime::from_timestamp(t as i64, 0)
            .map(|d| d.format("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_default()
    };
    let labels: Vec<&str> = (0..next(3))
        .map(|k| LABELS[((i + k) % 4) as usize])
        .collect();
    json!({
        "file_time": time(created - created % 3600),
        "event_type": EVENTS[next(8) as usize],
        "actor_login": format!("user{:03}", next(200)),
        "repo_name": REPOS[next(3) as usize],
        "created_at": time(created),
        "updated_at": time(created + next(86_400)),
        "action": ACTIONS[next(5) as usize],
        "comment_id": (next(9_000_000_000) + 1).to_string(),
        "path": "",
        "ref": if next(2) == 0 { String::new() } else { format!("refs/heads/feature-{}", next(10)) },
        "ref_type": "branch",
        "creator_user_login": format!("user{:03}", next(200)),
        "number": next(50_000),
        "title": format!("Fix \"{}\" in Kafka engine — issue #{i}", EVENTS[(i % 8) as usize]),
        "labels": labels,
        "state": "open",
        "assignee": "",
        "assignees": [],
        "closed_at": "1970-01-01 00:00:00",
        "merged_at": "1970-01-01 00:00:00",
        "merge_commit_sha": "",
        "requested_reviewers": [],
        "merged_by": "",
        "review_comments": next(50),
        "member_login": "",
    })
    .to_string()
}

/// Rows `from..to` of data set `seed`.
pub fn rows(seed: u64, from: u64, to: u64) -> Vec<String> {
    (from..to).map(|i| row(seed, i)).collect()
}
