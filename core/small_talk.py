"""Small talk: greetings, thanks, goodbyes and "are you a bot?", in English and Chinese.

These are social turns, not questions: searching the knowledge base for "thanks!" finds either
nothing (the no-answer text, which reads as rude) or a random article. A message is small talk
only when all of it is (after punctuation and emoji are dropped), so "hi, I lost my card" is
still a question. The replies are the bot's own texts (`texts.greeting` etc. in bot.yaml).
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Final


class SmallTalk(StrEnum):
    """Each kind is also the name of its reply text in bot.yaml."""

    GREETING = "greeting"
    THANKS = "thanks"
    GOODBYE = "goodbye"
    BOT_IDENTITY = "bot_identity"


_EN_TAIL = r"(?: (?:there|team|everyone|folks|guys|acme|acme bank|again|so much|a lot|very much|a bunch))*"
_PATTERNS: Final[tuple[tuple[SmallTalk, re.Pattern[str]], ...]] = tuple(
    (kind, re.compile(pattern))
    for kind, pattern in (
        (SmallTalk.GREETING, rf"(?:hi|hello|hey|hiya|howdy|yo|good (?:morning|afternoon|evening|day)){_EN_TAIL}"),
        (SmallTalk.THANKS, rf"(?:(?:many |great |ok |okay )?thanks?(?: you)?|thx|ty|cheers|thank u|much appreciated|perfect thanks?)"
                           rf"{_EN_TAIL}(?: (?:that|this|it) (?:helped|helps|was helpful|was great|works))?"),
        (SmallTalk.GOODBYE, rf"(?:bye|goodbye|good bye|bye bye|see you|see ya|later|have a (?:nice|good|great) (?:day|evening|one)|"
                            rf"that's all|thats all|that is all|bye for now){_EN_TAIL}"),
        (SmallTalk.BOT_IDENTITY, r"(?:are you|r u|is this|am i (?:talking|speaking|chatting) (?:to|with)) "
                                 r"(?:a |an )?(?:bot|robot|machine|computer|human|real person|real|person|ai|chatbot)"
                                 r"(?: or (?:a |an )?(?:bot|robot|machine|human|real person|person))?"),
        (SmallTalk.GREETING, r"(?:你好|您好|嗨|哈喽|哈啰|早上好|早安|下午好|晚上好|在吗|在不在)(?:啊|呀|呢)?"),
        (SmallTalk.THANKS, r"(?:太|非常|十分|真是)?(?:谢谢|多谢|感谢|谢了)(?:你|您|你们)?(?:了|啦)?(?:帮了大忙|很有帮助|帮大忙了|你的帮助|您的帮助)?"),
        (SmallTalk.GOODBYE, r"(?:再见|拜拜|回头见|下次见|没有了|没别的了)(?:了|啦)?"),
        (SmallTalk.BOT_IDENTITY, r"(?:你|您)是(?:不是)?(?:机器人|真人|人工|机器|ai|人)(?:吗|还是(?:机器人|真人|人工|机器|人))?"),
    )
)
_NOISE = re.compile(r"[\s\W_]+", re.UNICODE)


def _normalise(text: str) -> str:
    """Lower case, punctuation and emoji gone, words single-spaced; no spaces between CJK."""
    words = [w for w in _NOISE.split(text.lower().replace("'", "")) if w]
    joined = " ".join(words)
    return re.sub(r"(?<=[\u3400-\u9fff]) (?=[\u3400-\u9fff])", "", joined)


def recognise(text: str) -> SmallTalk | None:
    """The kind of small talk `text` is, or None when it says anything more."""
    plain = _normalise(text.replace("’", "'"))
    if not plain or len(plain) > 60:
        return None
    for kind, pattern in _PATTERNS:
        if pattern.fullmatch(plain):
            return kind
    return None
