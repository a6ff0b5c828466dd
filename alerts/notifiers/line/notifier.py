"""LINE Messaging API push through the official ``line-bot-sdk`` (v3).

Each delivery is one push request with the full text and a buttons template
("確認しました" postback that acknowledges, and the acknowledge link). The
``X-Line-Retry-Key`` is a UUID derived from the delivery's idempotency key,
so a retry after a timeout is never delivered twice: LINE (and the stand-in)
answers 409 with ``x-line-accepted-request-id`` when it already accepted it,
which counts as sent.

Failure table: 2xx, 409 → ok; 429 "monthly limit" → reject (quota, fall
back); other 429, 5xx, connection errors → retry; other 4xx → reject.
"""

from __future__ import annotations

from linebot.v3.messaging import (
    ApiClient,
    ButtonsTemplate,
    Configuration,
    MessagingApi,
    PostbackAction,
    PushMessageRequest,
    TemplateMessage,
    TextMessage,
    URIAction,
)
from linebot.v3.messaging.exceptions import ApiException
from pydantic import BaseModel, ConfigDict, Field

from ..base import Outgoing, Result, http_status_result

ACK_LABEL = {"ja": "確認しました", "en": "Got it"}
LINK_LABEL = {"ja": "詳しく見る", "en": "Details"}


class LineConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    base_url: str = "https://api.line.me"
    channel_access_token: str = "standin-token"
    channel_secret: str = "standin-secret"
    timeout_s: float = Field(10.0, gt=0)


def _header(headers, name: str) -> str | None:
    if not headers:
        return None
    for k, v in dict(headers).items():
        if k.lower() == name:
            return v
    return None


class LineNotifier:
    channel = "line"

    def __init__(self, config: dict | LineConfig | None = None, context=None) -> None:
        self.config = config if isinstance(config, LineConfig) else LineConfig(**(config or {}))
        self._client: ApiClient | None = None

    def start(self) -> None:
        conf = Configuration(host=self.config.base_url,
                             access_token=self.config.channel_access_token)
        self._client = ApiClient(conf)

    def stop(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def build(self, out: Outgoing) -> PushMessageRequest:
        lang = out.language if out.language in ACK_LABEL else "ja"
        messages: list = [TextMessage(text=out.message["text"][:5000])]
        if out.purpose in ("notify", "reminder") and out.ack_token:
            actions: list = [PostbackAction(label=ACK_LABEL[lang], data=f"ack={out.ack_token}",
                                            displayText=ACK_LABEL[lang])]
            if out.ack_url:
                actions.append(URIAction(label=LINK_LABEL[lang], uri=out.ack_url))
            messages.append(TemplateMessage(
                altText=out.message["short"][:400],
                template=ButtonsTemplate(text=out.message["short"][:160], actions=actions)))
        return PushMessageRequest(to=out.address, messages=messages)

    def send(self, out: Outgoing) -> Result:
        if self._client is None:
            self.start()
        api = MessagingApi(self._client)
        try:
            resp = api.push_message_with_http_info(self.build(out), x_line_retry_key=out.retry_key,
                                                   _request_timeout=self.config.timeout_s)
        except ApiException as exc:
            body = exc.body.decode() if isinstance(exc.body, bytes) else str(exc.body or "")
            if exc.status == 409:  # this retry key was already accepted: it was delivered
                return Result.ok(_header(exc.headers, "x-line-accepted-request-id"))
            if exc.status == 429 and "monthly limit" in body:
                return Result.reject(f"LINE quota used up: {body}")
            return http_status_result(int(exc.status or 0), body or str(exc.reason),
                                      _header(exc.headers, "retry-after"))
        except Exception as exc:  # urllib3 connection errors, timeouts
            return Result.retry(f"LINE API at {self.config.base_url} unreachable: "
                                f"{type(exc).__name__}: {exc}")
        return Result.ok(_header(resp.headers, "x-line-request-id"))
