"""Checks that our leave-one-out split is RecBole's, user by user; exits 1 on any difference.

Usage: check_split.py OURS.json RECBOLE.json [MAX_ITEM_LIST_LENGTH]

OURS.json: `eval-retrieval dataset split --dataset ml-100k --out OURS.json` (every earlier item as
input). RECBOLE.json: the "split" object of `run_recbole.py`'s result (inputs truncated by RecBole
to the last MAX_ITEM_LIST_LENGTH items, 50 by default). Compared per user: the test and validation
targets, and the inputs (item ids, order, and so how ties in time were broken).
"""

import json
import sys


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    ours = json.load(open(sys.argv[1]))
    theirs = json.load(open(sys.argv[2]))
    theirs = theirs.get("split", theirs)
    limit = int(sys.argv[3]) if len(sys.argv) > 3 else 50
    problems = []
    if set(ours) != set(theirs):
        only_ours = sorted(set(ours) - set(theirs))[:5]
        only_theirs = sorted(set(theirs) - set(ours))[:5]
        problems.append(f"users differ: only ours {only_ours}, only RecBole's {only_theirs}")
    for user in sorted(set(ours) & set(theirs)):
        a, b = ours[user], theirs[user]
        for key in ["test", "validation"]:
            if a[key] != b[key]:
                problems.append(f"user {user}: {key} target ours {a[key]}, RecBole's {b[key]}")
        for key in ["test_input", "validation_input"]:
            if a[key][-limit:] != b[key]:
                problems.append(
                    f"user {user}: {key} differs (ours, last {limit}: {a[key][-limit:][-5:]}..., "
                    f"RecBole's: {b[key][-5:]}...)"
                )
    if problems:
        print(f"check_split: FAILED, {len(problems)} differences:", file=sys.stderr)
        for p in problems[:20]:
            print("  " + p, file=sys.stderr)
        sys.exit(1)
    print(
        f"check_split: identical for all {len(ours)} users (targets, and inputs up to the last {limit} items)",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
