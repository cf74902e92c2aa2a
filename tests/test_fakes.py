"""The local fake OpenAI and YouTube servers behave like the real APIs where it matters."""
import asyncio
import json
import time

import aiohttp
import openai
import pytest

from tests.fakes.openai_server import FakeOpenAIServer, default_responder, extract_task
from tests.fakes.youtube_server import FakeYouTubeServer, video_id_for


@pytest.fixture(scope="module")
def ai_server():
    with FakeOpenAIServer(timeout_sleep_s=5) as server:
        yield server


@pytest.fixture
def fake_ai(ai_server):
    ai_server.mode = "ok"
    ai_server.latency_s = 0.0
    ai_server.responder = default_responder
    ai_server.reset()
    return ai_server


@pytest.fixture(scope="module")
def yt_server():
    with FakeYouTubeServer(timeout_sleep_s=5) as server:
        yield server


@pytest.fixture
def fake_yt(yt_server):
    yt_server.mode = "ok"
    yt_server.latency_s = 0.0
    yt_server.reset()
    return yt_server


def _client(server, **kw):
    return openai.OpenAI(api_key="test", base_url=server.base_url, max_retries=0, **kw)


def _prompt(task, payload):
    return [
        {"role": "system", "content": "Answer with JSON only."},
        {"role": "user", "content": f"Some instructions.\nTASK: {task}\nINPUT:\n{json.dumps(payload)}"},
    ]


# --- OpenAI ------------------------------------------------------------------------------

def test_openai_ok_real_client_and_response_shape(fake_ai):
    assert fake_ai.base_url.endswith("/v1")
    resp = _client(fake_ai).chat.completions.create(
        model="gpt-4o-mini",
        messages=_prompt("core_topic", {"question_text": "<p>What is the time complexity of binary search?</p>"}),
        response_format={"type": "json_object"},
    )
    assert resp.object == "chat.completion"
    assert resp.model == "gpt-4o-mini"
    assert resp.id.startswith("chatcmpl-")
    choice = resp.choices[0]
    assert choice.index == 0 and choice.finish_reason == "stop" and choice.message.role == "assistant"
    assert json.loads(choice.message.content) == {"topic": "time complexity binary"}
    assert resp.usage.total_tokens == resp.usage.prompt_tokens + resp.usage.completion_tokens
    assert fake_ai.calls == 1
    req = fake_ai.requests[0]
    assert req["path"] == "/v1/chat/completions" and req["status"] == 200
    assert req["headers"]["Authorization"] == "Bearer test"
    assert req["json"]["response_format"] == {"type": "json_object"}


def test_openai_default_responder_tasks(fake_ai):
    client = _client(fake_ai)
    payload = {"skills": ["Hash Tables", "Recursion", "Sorting"],
               "questions": [{"id": "q1", "text": "How do hash tables resolve collisions?"},
                             {"id": "q2", "text": "Who wrote Hamlet?"}]}
    content = client.chat.completions.create(model="m", messages=_prompt("analyze_questions", payload)) \
        .choices[0].message.content
    result = json.loads(content)["questions"]
    assert result[0] == {"questionId": "q1", "suggestedSkills": ["Hash Tables"], "complexity": "medium",
                         "confidence": 0.8}
    assert result[1]["suggestedSkills"] == ["Hash Tables"]  # no overlap -> first listed skill
    skills = json.loads(client.chat.completions.create(
        model="m", messages=_prompt("suggest_skills", {"course_name": "Organic Chemistry"})
    ).choices[0].message.content)["skills"]
    assert len(skills) == 5 and all({"skill", "description", "relevance"} == set(s) for s in skills)
    assert skills[0]["skill"] == "Organic Chemistry Fundamentals"
    other = json.loads(client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "hello"}]).choices[0].message.content)
    assert other == {"task": None, "echo": "hello"}


def test_extract_task_uses_last_input_line():
    req = {"messages": [{"role": "system", "content": "Use a line INPUT: followed by JSON"},
                        {"role": "user", "content": [{"type": "text", "text": 'TASK: x\nINPUT:\n{"a": 1} trailing'}]}]}
    assert extract_task(req) == ("x", {"a": 1})


def test_openai_custom_responder(fake_ai):
    fake_ai.responder = lambda body: json.dumps({"n": len(body["messages"])})
    resp = _client(fake_ai).chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    assert json.loads(resp.choices[0].message.content) == {"n": 1}


def test_openai_malformed_content(fake_ai):
    fake_ai.mode = "malformed"
    resp = _client(fake_ai).chat.completions.create(model="m", messages=_prompt("core_topic", {"text": "x"}))
    with pytest.raises(json.JSONDecodeError):
        json.loads(resp.choices[0].message.content)


def test_openai_error_modes(fake_ai):
    client = _client(fake_ai)
    fake_ai.mode = "500"
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    fake_ai.mode = "401"
    with pytest.raises(openai.AuthenticationError) as err:
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    assert err.value.code == "invalid_api_key"
    fake_ai.mode = "429"
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    assert fake_ai.calls == 3
    # the real client retries 5xx: 1 call + 1 retry (each one logged)
    fake_ai.reset()
    fake_ai.mode = "500"
    retrying = openai.OpenAI(api_key="test", base_url=fake_ai.base_url, max_retries=1, timeout=5)
    with pytest.raises(openai.InternalServerError):
        retrying.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    assert fake_ai.calls == 2
    assert [r["status"] for r in fake_ai.requests] == [500, 500]


def test_openai_timeout_mode(fake_ai):
    fake_ai.mode = "timeout"
    started = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        _client(fake_ai, timeout=0.3).chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    assert time.monotonic() - started < 3


def test_openai_requires_bearer_header(fake_ai):
    async def go():
        async with aiohttp.ClientSession() as s:
            async with s.post(f"{fake_ai.base_url}/chat/completions",
                              json={"model": "m", "messages": []}) as r:
                return r.status, await r.json()

    status, body = asyncio.run(go())
    assert status == 401
    assert set(body["error"]) == {"message", "type", "param", "code"}


def test_openai_latency_overlaps_for_concurrent_calls(fake_ai):
    fake_ai.latency_s = 0.3

    async def go():
        async with aiohttp.ClientSession(headers={"Authorization": "Bearer t"}) as s:
            async def one(i):
                async with s.post(f"{fake_ai.base_url}/chat/completions",
                                  json={"model": "m", "messages": [{"role": "user", "content": str(i)}]}) as r:
                    return r.status

            return await asyncio.gather(*(one(i) for i in range(10)))

    started = time.monotonic()
    statuses = asyncio.run(go())
    elapsed = time.monotonic() - started
    assert statuses == [200] * 10
    assert elapsed < 1.5, elapsed  # serial would be >= 3 s
    assert fake_ai.max_in_flight >= 5


def test_mode_validation(fake_ai):
    with pytest.raises(ValueError):
        fake_ai.mode = "nope"


# --- YouTube -----------------------------------------------------------------------------

async def _get(url, params, timeout=5.0):
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as s:
        async with s.get(url, params=params) as r:
            return r.status, await r.json()


def _search_params(q="binary search", n=3, key="k"):
    params = {"part": "snippet", "q": q, "type": "video", "maxResults": str(n), "safeSearch": "strict"}
    if key:
        params["key"] = key
    return params


def test_youtube_search_shape_and_determinism(fake_yt):
    assert fake_yt.base_url.endswith("/youtube/v3")
    status, body = asyncio.run(_get(f"{fake_yt.base_url}/search", _search_params()))
    assert status == 200
    assert body["kind"] == "youtube#searchListResponse"
    assert len(body["items"]) == 3
    item = body["items"][0]
    assert item["kind"] == "youtube#searchResult"
    assert item["id"] == {"kind": "youtube#video", "videoId": video_id_for("binary search", 0)}
    assert len(item["id"]["videoId"]) == 11
    sn = item["snippet"]
    for key in ("title", "description", "channelTitle", "publishedAt", "thumbnails"):
        assert sn[key]
    assert set(sn["thumbnails"]) >= {"default", "medium", "high"}
    assert all(t["url"].startswith("https://i.ytimg.com/vi/") for t in sn["thumbnails"].values())
    assert "binary search" in sn["title"].lower()
    _, again = asyncio.run(_get(f"{fake_yt.base_url}/search", _search_params()))
    assert again["items"] == body["items"]
    _, other = asyncio.run(_get(f"{fake_yt.base_url}/search", _search_params(q="photosynthesis")))
    assert other["items"][0]["id"]["videoId"] != item["id"]["videoId"]
    req = fake_yt.requests[0]
    assert req["path"] == "/youtube/v3/search" and req["query"]["safeSearch"] == "strict"


def test_youtube_videos_lookup(fake_yt):
    _, body = asyncio.run(_get(f"{fake_yt.base_url}/search", _search_params(n=2)))
    vid = body["items"][1]["id"]["videoId"]
    status, videos = asyncio.run(_get(f"{fake_yt.base_url}/videos", {"part": "snippet", "id": f"{vid},nope", "key": "k"}))
    assert status == 200
    assert videos["kind"] == "youtube#videoListResponse"
    assert [v["id"] for v in videos["items"]] == [vid]
    assert videos["items"][0]["kind"] == "youtube#video"
    assert videos["items"][0]["snippet"]["title"] == body["items"][1]["snippet"]["title"]
    _, none = asyncio.run(_get(f"{fake_yt.base_url}/videos", {"part": "snippet", "id": "unknownid01", "key": "k"}))
    assert none["items"] == []
    fake_yt.add_video("dQw4w9WgXcQ", "Custom video", "Some Channel")
    _, custom = asyncio.run(_get(f"{fake_yt.base_url}/videos", {"part": "snippet", "id": "dQw4w9WgXcQ", "key": "k"}))
    assert custom["items"][0]["snippet"]["channelTitle"] == "Some Channel"


def test_youtube_errors(fake_yt):
    status, body = asyncio.run(_get(f"{fake_yt.base_url}/search", _search_params(key=None)))
    assert status == 400
    assert body["error"]["code"] == 400 and body["error"]["message"] and body["error"]["errors"]
    status, body = asyncio.run(_get(f"{fake_yt.base_url}/search", _search_params(n=51)))
    assert status == 400 and body["error"]["errors"][0]["reason"] == "invalidParameter"
    fake_yt.mode = "quota"
    status, body = asyncio.run(_get(f"{fake_yt.base_url}/search", _search_params()))
    assert status == 403
    assert body["error"]["errors"][0]["reason"] == "quotaExceeded"
    assert body["error"]["errors"][0]["domain"] == "youtube.quota"
    fake_yt.mode = "500"
    status, body = asyncio.run(_get(f"{fake_yt.base_url}/videos", {"part": "snippet", "id": "x", "key": "k"}))
    assert status == 500 and body["error"]["code"] == 500
    assert fake_yt.calls == 4


def test_youtube_timeout_and_latency(fake_yt):
    fake_yt.mode = "timeout"
    with pytest.raises(asyncio.TimeoutError):
        asyncio.run(_get(f"{fake_yt.base_url}/search", _search_params(), timeout=0.3))
    fake_yt.mode = "ok"
    fake_yt.latency_s = 0.3

    async def many():
        async with aiohttp.ClientSession() as s:
            async def one(i):
                async with s.get(f"{fake_yt.base_url}/search", params=_search_params(q=f"topic {i}")) as r:
                    return r.status
            return await asyncio.gather(*(one(i) for i in range(8)))

    started = time.monotonic()
    assert asyncio.run(many()) == [200] * 8
    assert time.monotonic() - started < 1.5


def test_server_restart_and_context_manager():
    server = FakeYouTubeServer()
    with pytest.raises(RuntimeError):
        server.base_url
    server.start()
    try:
        status, _ = asyncio.run(_get(f"{server.base_url}/search", _search_params(n=1)))
        assert status == 200
    finally:
        server.stop()
    server.stop()  # idempotent
