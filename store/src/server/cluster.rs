//! Membership changes (etcd's Cluster service): validated here against the current
//! members, then committed through Raft as configuration changes.

use std::time::{SystemTime, UNIX_EPOCH};

use proto::etcdserverpb::Member;
use tonic::Status;

use super::{Server, errors, hash_id};
use crate::apply::Request;
use crate::membership::MemberChange;
use crate::raft::{ConfChangeError, Unavailable};

/// etcd allows one learner at a time.
const MAX_LEARNERS: usize = 1;

fn check_urls(urls: &[String]) -> Result<Vec<String>, Status> {
    if urls.is_empty() {
        return Err(errors::bad_member_urls());
    }
    urls.iter()
        .map(|u| match url::Url::parse(u) {
            Ok(p) if matches!(p.scheme(), "http" | "https") && p.host_str().is_some() && p.port().is_some() => {
                Ok(u.trim_end_matches('/').to_string())
            }
            _ => Err(errors::bad_member_urls()),
        })
        .collect()
}

impl Server {
    /// The members as MemberList shows them; this member's own name and client URLs
    /// are known before it has published them.
    pub fn member_list(&self) -> Vec<Member> {
        let mut ms = self.sm.members();
        for m in ms.iter_mut().filter(|m| m.id == self.id.member_id) {
            m.name = self.id.name.clone();
            m.client_ur_ls = self.id.client_urls.clone();
        }
        ms
    }

    fn find_member(&self, id: u64) -> Result<Member, Status> {
        self.sm.members().into_iter().find(|m| m.id == id).ok_or_else(errors::member_not_found)
    }

    fn url_taken(&self, urls: &[String], except: u64) -> bool {
        self.sm.members().iter().any(|m| m.id != except && m.peer_ur_ls.iter().any(|u| urls.contains(u)))
    }

    async fn change(&self, change: MemberChange) -> Result<(), Status> {
        match tokio::time::timeout(self.request_timeout(), self.raft.change_membership(change)).await {
            Ok(Ok(Ok(()))) => Ok(()),
            Ok(Ok(Err(ConfChangeError::NotEnoughStarted))) => Err(errors::not_enough_started()),
            Ok(Ok(Err(ConfChangeError::LearnerNotReady))) => Err(errors::learner_not_ready()),
            Ok(Ok(Err(ConfChangeError::Rejected(why)))) => {
                tracing::warn!(reason = %why, "membership change refused");
                Err(errors::unhealthy_cluster())
            }
            Ok(Err(Unavailable::Busy)) => Err(errors::too_many_requests()),
            Ok(Err(Unavailable::NoLeader)) => Err(errors::no_leader()),
            Err(_) => Err(errors::request_timed_out()),
        }
    }

    /// Adds a member (a voter, or a learner); returns it.
    pub async fn member_add(&self, peer_urls: &[String], is_learner: bool) -> Result<Member, Status> {
        let urls = check_urls(peer_urls)?;
        if self.url_taken(&urls, 0) {
            return Err(errors::peer_url_exists());
        }
        if is_learner && self.sm.members().iter().filter(|m| m.is_learner).count() >= MAX_LEARNERS {
            return Err(errors::too_many_learners());
        }
        let mut sorted = urls.clone();
        sorted.sort();
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos()).to_be_bytes();
        let id = hash_id(&[sorted.join("").as_bytes(), self.cfg.initial_cluster_token.as_bytes(), &now]);
        let m = Member { id, peer_ur_ls: urls, is_learner, ..Default::default() };
        self.change(MemberChange::Add(m.clone())).await?;
        Ok(m)
    }

    pub async fn member_remove(&self, id: u64) -> Result<(), Status> {
        self.find_member(id)?;
        if id == self.id.member_id {
            self.hand_over_leadership().await;
        }
        self.change(MemberChange::Remove(id)).await
    }

    pub async fn member_promote(&self, id: u64) -> Result<(), Status> {
        if !self.find_member(id)?.is_learner {
            return Err(errors::member_not_learner());
        }
        self.change(MemberChange::Promote(id)).await
    }

    pub async fn member_update(&self, id: u64, peer_urls: &[String]) -> Result<(), Status> {
        self.find_member(id)?;
        let urls = check_urls(peer_urls)?;
        if self.url_taken(&urls, id) {
            return Err(errors::peer_url_exists());
        }
        let m = Member { id, peer_ur_ls: urls, ..Default::default() };
        self.submit(Request::UpdateMember(m)).await.map(|_| ())
    }
}
