#!/bin/sh
# The demo's check (HOOKQ_CHECK_CMD): what an operator's check looks like.
#
# hookq-worker runs it once per event with the webhook payload on stdin and
# the event's facts in the environment (HOOKQ_EVENT, HOOKQ_ACTION, HOOKQ_REPO,
# HOOKQ_SHA, HOOKQ_DELIVERY, HOOKQ_ATTEMPT). Exit 0 posts "success", 1 posts
# "failure", anything else (or a timeout) "error"; the first line printed is
# the status description. With HOOKQ_REPORT=checks (demo.sh --checks) the
# same exits become the check run's conclusion (78 would be "neutral"), the
# first line its title and the whole output its text. A real check would fetch $HOOKQ_SHA and build it;
# this one pretends for a moment, then fails commits whose message (or pull
# request title) contains "WIP" and passes the rest.
set -eu

payload=$(cat)
case "$HOOKQ_EVENT" in
push)
    what="push to $(printf '%s' "$payload" | jq -r '.ref | sub("^refs/heads/"; "")')"
    message=$(printf '%s' "$payload" | jq -r '.head_commit.message // ""')
    ;;
pull_request)
    what="PR #$(printf '%s' "$payload" | jq -r '.number') ($HOOKQ_ACTION)"
    message=$(printf '%s' "$payload" | jq -r '.pull_request.title // ""')
    ;;
*)
    echo "nothing to check for $HOOKQ_EVENT"
    exit 0
    ;;
esac

sleep 0.2 # the "build"

case "$message" in
*WIP*)
    echo "$what: work in progress, not ready to merge"
    exit 1
    ;;
esac
echo "$what: build and tests passed"
