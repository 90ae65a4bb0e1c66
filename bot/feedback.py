"""Feedback on the clone's replies, from Discord (👍/👎 reactions, `!correct`) and the terminal (`/good`, `/bad`,
`/correct TEXT`): stored per version in the conversation store, and logged as a `feedback` event in the registry's
audit log when the bot is given one. The log gets no text and no name: the kind, the version, and the participant
as a hash of their id (the log is append-only; the text stays in the store, which forgets when consent goes)."""

from __future__ import annotations

import logging

from clonekit.bot.store import ConversationStore
from clonekit.hashing import sha256_text

log = logging.getLogger("clonekit.bot.feedback")
REACTIONS = {"👍": "up", "👎": "down"}


def give_feedback(
    store: ConversationStore,
    channel: str,
    kind: str,
    author: str,
    author_id: str,
    text: str | None = None,
    platform_id: str | None = None,
    registry_dir: str | None = None,
) -> dict:
    """Store the feedback (ClonekitError when it cannot be taken) and log it in the registry's audit log."""
    fb = store.add_feedback(channel, kind, author, author_id, text, platform_id)
    if registry_dir:
        from clonekit.registry import Registry

        reg = Registry(registry_dir)
        if fb["version"] and fb["version"] in reg.state().versions:
            reg.audit.append(
                "feedback",
                reason=f"{kind} on a reply of {fb['version']}",
                actor=f"participant:{sha256_text(author_id)[:12]}",
                version=fb["version"],
                kind=kind,
                feedback_id=fb["feedback_id"],
            )
        else:
            log.info(
                "feedback on a reply of %s, which is not a version of the registry: stored, not logged", fb["version"]
            )
    return fb
