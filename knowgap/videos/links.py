"""A video as clients see it, and one spelling of its link.

Kept apart from ``knowgap.videos.service`` (which also hands watched videos to xAPI) so the
readers of videos in other parts of the product (AchieveUp's insights, KnowGap's risk) import
two pure functions, not the video service and what it reaches.
"""
from __future__ import annotations

from knowgap.videos import youtube

PUBLIC_VIDEO_KEYS = ("title", "link", "channel", "thumbnail")


def public_video(video: dict | None) -> dict | None:
    if not video:
        return None
    return {k: video.get(k, "") for k in PUBLIC_VIDEO_KEYS}


def canonical_link(link: str) -> str:
    """Watch URL for YouTube links (so votes/watched match however the link was written)."""
    vid = youtube.parse_video_id(link)
    return youtube.watch_url(vid) if vid else link.strip()
