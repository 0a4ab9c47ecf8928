//! Certificate policy processing: the `valid_policy_tree` of RFC 5280 §6.1.2 (a),
//! §6.1.3 (d)-(f), §6.1.4 (a)-(b), (h)-(j) and §6.1.5 (a)-(b), (g).
//!
//! The tree is stored level by level; `levels[d]` holds the nodes of depth `d` and each
//! node points at its parent in `levels[d - 1]`. `None` is the RFC's NULL tree. The tree is
//! capped at [`MAX_NODES`] nodes: crafted mappings can make it grow exponentially
//! (OpenSSL CVE-2023-0464), and no legitimate path comes near the cap.

use std::collections::BTreeMap;

use const_oid::ObjectIdentifier as Oid;

use super::{PathError, PolicyInputs};
use crate::cert::Certificate;
use crate::oid::ANY_POLICY;

/// Largest policy tree accepted.
pub const MAX_NODES: usize = 4096;

#[derive(Debug, Clone)]
struct Node {
    policy: Oid,
    expected: Vec<Oid>,
    parent: usize,
}

/// The policy state of one path validation.
pub(crate) struct PolicyState {
    levels: Option<Vec<Vec<Node>>>,
    explicit_policy: usize,
    inhibit_any_policy: usize,
    policy_mapping: usize,
    n: usize,
}

fn policy_error(cert: &Certificate, detail: &str) -> PathError {
    PathError::Policy {
        cert: cert.subject_display(),
        detail: detail.into(),
    }
}

impl PolicyState {
    /// §6.1.2: initial state for a path of `n` certificates.
    pub(crate) fn new(inputs: &PolicyInputs, n: usize) -> Self {
        let root = Node {
            policy: ANY_POLICY,
            expected: vec![ANY_POLICY],
            parent: usize::MAX,
        };
        let start = |inhibit: bool| if inhibit { 0 } else { n + 1 };
        Self {
            levels: Some(vec![vec![root]]),
            explicit_policy: start(inputs.initial_explicit_policy),
            inhibit_any_policy: start(inputs.initial_any_policy_inhibit),
            policy_mapping: start(inputs.initial_policy_mapping_inhibit),
            n,
        }
    }

    /// §6.1.3 (d)-(f) for certificate `i` (1-based).
    pub(crate) fn process_certificate(
        &mut self,
        cert: &Certificate,
        i: usize,
    ) -> Result<(), PathError> {
        match (
            &cert.extensions().certificate_policies,
            self.levels.as_mut(),
        ) {
            (Some(cp), Some(levels)) => {
                let mut policies: Vec<Oid> = Vec::new();
                for info in &cp.0 {
                    if policies.contains(&info.policy_identifier) {
                        return Err(policy_error(
                            cert,
                            "duplicate policy in certificatePolicies",
                        ));
                    }
                    policies.push(info.policy_identifier);
                }
                let prev = &levels[i - 1];
                let mut level: Vec<Node> = Vec::new();
                for p in policies.iter().filter(|p| **p != ANY_POLICY) {
                    let before = level.len();
                    for (idx, node) in prev.iter().enumerate() {
                        if node.expected.contains(p) {
                            level.push(Node {
                                policy: *p,
                                expected: vec![*p],
                                parent: idx,
                            });
                        }
                    }
                    if level.len() == before {
                        for (idx, node) in prev.iter().enumerate() {
                            if node.policy == ANY_POLICY {
                                level.push(Node {
                                    policy: *p,
                                    expected: vec![*p],
                                    parent: idx,
                                });
                            }
                        }
                    }
                }
                let any_allowed =
                    self.inhibit_any_policy > 0 || (i < self.n && cert.is_self_issued());
                if policies.contains(&ANY_POLICY) && any_allowed {
                    for (idx, node) in prev.iter().enumerate() {
                        for e in &node.expected {
                            if !level.iter().any(|c| c.parent == idx && c.policy == *e) {
                                level.push(Node {
                                    policy: *e,
                                    expected: vec![*e],
                                    parent: idx,
                                });
                            }
                        }
                    }
                }
                levels.push(level);
                check_size(levels, cert)?;
                self.prune(i);
            }
            (None, _) => self.levels = None,
            (Some(_), None) => {}
        }
        if self.explicit_policy == 0 && self.levels.is_none() {
            return Err(policy_error(
                cert,
                "explicit policy required and the valid policy tree is empty",
            ));
        }
        Ok(())
    }

    /// §6.1.4 (a)-(b): policy mappings of certificate `i`.
    pub(crate) fn process_mappings(
        &mut self,
        cert: &Certificate,
        i: usize,
    ) -> Result<(), PathError> {
        let Some(mappings) = &cert.extensions().policy_mappings else {
            return Ok(());
        };
        let mut map: BTreeMap<Oid, Vec<Oid>> = BTreeMap::new();
        for m in &mappings.0 {
            if m.issuer_domain_policy == ANY_POLICY || m.subject_domain_policy == ANY_POLICY {
                return Err(policy_error(
                    cert,
                    "policyMappings maps to or from anyPolicy",
                ));
            }
            let subjects = map.entry(m.issuer_domain_policy).or_default();
            if !subjects.contains(&m.subject_domain_policy) {
                subjects.push(m.subject_domain_policy);
            }
        }
        let Some(levels) = self.levels.as_mut() else {
            return Ok(());
        };
        if self.policy_mapping > 0 {
            for (id_p, subjects) in &map {
                let level = &mut levels[i];
                let mut found = false;
                for node in level.iter_mut().filter(|n| n.policy == *id_p) {
                    node.expected = subjects.clone();
                    found = true;
                }
                if !found && let Some(any) = level.iter().find(|n| n.policy == ANY_POLICY).cloned()
                {
                    level.push(Node {
                        policy: *id_p,
                        expected: subjects.clone(),
                        parent: any.parent,
                    });
                }
            }
            check_size(levels, cert)?;
        } else {
            levels[i].retain(|n| !map.contains_key(&n.policy));
            self.prune(i);
        }
        Ok(())
    }

    /// §6.1.4 (h)-(j): counters after certificate `i` (not the end-entity).
    pub(crate) fn update_counters(&mut self, cert: &Certificate) {
        if !cert.is_self_issued() {
            for c in [
                &mut self.explicit_policy,
                &mut self.policy_mapping,
                &mut self.inhibit_any_policy,
            ] {
                *c = c.saturating_sub(1);
            }
        }
        let ext = cert.extensions();
        if let Some(pc) = &ext.policy_constraints {
            if let Some(r) = pc.require_explicit_policy {
                self.explicit_policy = self.explicit_policy.min(r as usize);
            }
            if let Some(m) = pc.inhibit_policy_mapping {
                self.policy_mapping = self.policy_mapping.min(m as usize);
            }
        }
        if let Some(v) = ext.inhibit_any_policy {
            self.inhibit_any_policy = self.inhibit_any_policy.min(v as usize);
        }
    }

    /// §6.1.5 (a)-(b), (g): returns the authorities-constrained policy set.
    pub(crate) fn wrap_up(
        &mut self,
        ee: &Certificate,
        inputs: &PolicyInputs,
    ) -> Result<Vec<Oid>, PathError> {
        self.explicit_policy = self.explicit_policy.saturating_sub(1);
        if ee
            .extensions()
            .policy_constraints
            .as_ref()
            .and_then(|pc| pc.require_explicit_policy)
            == Some(0)
        {
            self.explicit_policy = 0;
        }
        if let (Some(user), Some(_)) = (&inputs.initial_policy_set, &self.levels)
            && !user.contains(&ANY_POLICY)
        {
            self.intersect(user);
        }
        let leaves: Vec<Oid> = match &self.levels {
            Some(levels) if levels.len() == self.n + 1 => {
                let mut v: Vec<Oid> = levels[self.n].iter().map(|n| n.policy).collect();
                v.sort();
                v.dedup();
                v
            }
            _ => Vec::new(),
        };
        if self.explicit_policy == 0 && leaves.is_empty() {
            return Err(policy_error(
                ee,
                "explicit policy required and no acceptable policy remains",
            ));
        }
        Ok(leaves)
    }

    /// §6.1.5 (g)(iii): intersects the tree with a user-initial-policy-set.
    fn intersect(&mut self, user: &[Oid]) {
        let n = self.n;
        let Some(levels) = self.levels.as_mut() else {
            return;
        };
        // valid_policy_node_set: nodes whose ancestors are all anyPolicy.
        let depth = levels.len();
        let mut in_set: Vec<Vec<bool>> = levels.iter().map(|l| vec![false; l.len()]).collect();
        in_set[0][0] = true;
        for d in 1..depth {
            for (idx, node) in levels[d].iter().enumerate() {
                let parent = &levels[d - 1][node.parent];
                in_set[d][idx] = in_set[d - 1][node.parent] && parent.policy == ANY_POLICY;
            }
        }
        // Delete set members whose policy is not acceptable (and their subtrees).
        let mut alive: Vec<Vec<bool>> = levels.iter().map(|l| vec![true; l.len()]).collect();
        for d in 1..depth {
            for (idx, node) in levels[d].iter().enumerate() {
                if !alive[d - 1][node.parent]
                    || (in_set[d][idx] && node.policy != ANY_POLICY && !user.contains(&node.policy))
                {
                    alive[d][idx] = false;
                }
            }
        }
        // Replace an anyPolicy leaf by the user's policies not otherwise present.
        if depth == n + 1 {
            let any_leaf = levels[n]
                .iter()
                .enumerate()
                .find(|(idx, node)| node.policy == ANY_POLICY && alive[n][*idx])
                .map(|(idx, node)| (idx, node.parent));
            if let Some((idx, parent)) = any_leaf {
                alive[n][idx] = false;
                let present: Vec<Oid> = levels
                    .iter()
                    .enumerate()
                    .flat_map(|(d, l)| {
                        let (in_set, alive) = (&in_set, &alive);
                        l.iter()
                            .enumerate()
                            .filter(move |(i, _)| in_set[d][*i] && alive[d][*i])
                            .map(|(_, n)| n.policy)
                    })
                    .collect();
                for p in user.iter().filter(|p| !present.contains(p)) {
                    levels[n].push(Node {
                        policy: *p,
                        expected: vec![*p],
                        parent,
                    });
                    alive[n].push(true);
                }
            }
        }
        compact(levels, &alive);
        self.prune(levels_depth(&self.levels));
    }

    /// Deletes nodes of depth below `depth` that have no children, repeatedly; empties
    /// the tree (NULL) when the root goes.
    fn prune(&mut self, depth: usize) {
        let Some(levels) = self.levels.as_mut() else {
            return;
        };
        for d in (0..depth.min(levels.len().saturating_sub(1))).rev() {
            let (upper, lower) = levels.split_at_mut(d + 1);
            let has_child: Vec<bool> = (0..upper[d].len())
                .map(|idx| lower[0].iter().any(|c| c.parent == idx))
                .collect();
            let mut remap = vec![usize::MAX; upper[d].len()];
            let mut kept = Vec::new();
            for (idx, node) in upper[d].drain(..).enumerate() {
                if has_child[idx] {
                    remap[idx] = kept.len();
                    kept.push(node);
                }
            }
            upper[d] = kept;
            for c in lower[0].iter_mut() {
                c.parent = remap[c.parent];
            }
        }
        if levels[0].is_empty() {
            self.levels = None;
        }
    }
}

fn levels_depth(levels: &Option<Vec<Vec<Node>>>) -> usize {
    levels.as_ref().map(|l| l.len() - 1).unwrap_or(0)
}

/// Removes dead nodes (and, through their parents, their subtrees), fixing indices.
fn compact(levels: &mut [Vec<Node>], alive: &[Vec<bool>]) {
    let mut remap_prev: Vec<usize> = Vec::new();
    for (d, level) in levels.iter_mut().enumerate() {
        let mut remap = vec![usize::MAX; level.len()];
        let mut kept = Vec::new();
        for (idx, mut node) in level.drain(..).enumerate() {
            let parent_ok = d == 0 || remap_prev[node.parent] != usize::MAX;
            if alive[d][idx] && parent_ok {
                if d > 0 {
                    node.parent = remap_prev[node.parent];
                }
                remap[idx] = kept.len();
                kept.push(node);
            }
        }
        *level = kept;
        remap_prev = remap;
    }
}

fn check_size(levels: &[Vec<Node>], cert: &Certificate) -> Result<(), PathError> {
    if levels.iter().map(Vec::len).sum::<usize>() > MAX_NODES {
        return Err(policy_error(cert, "certificate policy tree too large"));
    }
    Ok(())
}
