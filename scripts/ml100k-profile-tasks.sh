#!/usr/bin/env bash
# MovieLens-100k's u.user with columns for many user-profile tasks, for `experiment continual` with many tasks:
# user|age|gender|occupation|zip|region|<one yes/no column per listed occupation>. region is the zip code's first
# digit (the US postal region; blank for the few non-numeric zip codes, so those users are unlabelled there).
# Usage: scripts/ml100k-profile-tasks.sh u.user > u.user.tasks
set -euo pipefail
[ $# -eq 1 ] && [ -f "$1" ] || { echo "usage: $0 u.user > out" >&2; exit 1; }
occupations="student educator administrator engineer programmer librarian writer executive scientist artist technician"
awk -F'|' -v OFS='|' -v occ="$occupations" '
  BEGIN { n = split(occ, names, " ") }
  {
    region = ($5 ~ /^[0-9]/) ? substr($5, 1, 1) : ""
    line = $1 OFS $2 OFS $3 OFS $4 OFS $5 OFS region
    for (i = 1; i <= n; i++) line = line OFS ($4 == names[i] ? "yes" : "no")
    print line
  }' "$1"
