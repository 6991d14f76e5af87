"""The small-talk grammar reads whole social turns, however their phrases are strung together,
and never a message that asks or says anything more."""

from __future__ import annotations

import pytest

from core.small_talk import SmallTalk, recognise

SOCIAL = [
    ("hey, good morning!", SmallTalk.GREETING),
    ("good evening, anyone around?", SmallTalk.GREETING),
    ("heyyy", SmallTalk.GREETING),
    ("hello I need help", SmallTalk.GREETING),
    ("are you there?", SmallTalk.GREETING),
    ("ok cool thanks", SmallTalk.THANKS),
    ("thanks so much, you've been really helpful", SmallTalk.THANKS),
    ("awesome, that's what I needed", SmallTalk.THANKS),
    ("thanks, I'll try that", SmallTalk.THANKS),
    ("ok thank you bye", SmallTalk.GOODBYE),
    ("no that's everything, thanks", SmallTalk.GOODBYE),
    ("take care", SmallTalk.GOODBYE),
    ("you're a bot aren't you", SmallTalk.BOT_IDENTITY),
    ("hi, is this automated?", SmallTalk.BOT_IDENTITY),
    ("gotcha", SmallTalk.ACKNOWLEDGEMENT),
    ("I'll give that a go", SmallTalk.ACKNOWLEDGEMENT),
    ("好的，明白了，谢谢你", SmallTalk.THANKS),
    ("没有了，谢谢", SmallTalk.GOODBYE),
    ("这是自动回复吗", SmallTalk.BOT_IDENTITY),
    ("您好，在吗", SmallTalk.GREETING),
    ("在的吗", SmallTalk.GREETING),
    ("我现在是在跟谁聊天？", SmallTalk.BOT_IDENTITY),
    ("ok谢谢", SmallTalk.THANKS),
    ("hi again, how's your morning going?", SmallTalk.GREETING),
    ("yeah that's perfect, you're a lifesaver", SmallTalk.THANKS),
    ("greatly appreciated lol", SmallTalk.THANKS),
    ("no problem, have a lovely evening", SmallTalk.GOODBYE),
    ("I'm all set", SmallTalk.GOODBYE),
    ("yep fair enough", SmallTalk.ACKNOWLEDGEMENT),
    ("is this a chat bot or a human I'm speaking to", SmallTalk.BOT_IDENTITY),
    ("what is your name", SmallTalk.BOT_IDENTITY),
    ("大家早上好", SmallTalk.GREETING),
    ("你们辛苦啦", SmallTalk.THANKS),
    ("打扰了，谢谢亲", SmallTalk.THANKS),
    ("嗯好的呀", SmallTalk.ACKNOWLEDGEMENT),
    ("哈哈太好了", SmallTalk.ACKNOWLEDGEMENT),
    ("没别的事了", SmallTalk.GOODBYE),
    ("您叫什么名字呀", SmallTalk.BOT_IDENTITY),
    ("thanks, I've got one more question", SmallTalk.THANKS),
    ("hi, can I ask you something?", SmallTalk.GREETING),
    ("好的，我还有个问题", SmallTalk.GREETING),
    ("thankyou for your patience!", SmallTalk.THANKS),
    ("感谢您的耐心解答", SmallTalk.THANKS),
]

# A message of emoji alone answers as a word would; a frown says the answer did not help.
EMOJI = [("👍👍", SmallTalk.ACKNOWLEDGEMENT), ("🙏", SmallTalk.THANKS), ("👋 ", SmallTalk.GREETING), ("👌!", SmallTalk.ACKNOWLEDGEMENT)]
NOT_SOCIAL_EMOJI = ["👎", "😡😡", "???", "...", "👍 2"]

QUESTIONS = [
    "hi, I lost my card",
    "thanks but my card still doesn't work",
    "ok so how do I reset my PIN",
    "can you help me with a transfer",
    "I want to talk to a person",
    "no it didn't help",
    "great, now my card is blocked",
    "good morning, my account is locked",
    "are you open on sunday",
    "thanks for nothing",
    "fine, how much is it",
    "so",  # fillers alone say nothing social
    "谢谢，但是我的卡还是不能用",
    "好的，那手续费多少",
    "在吗？我要转账",
    "我要找人工",
    "yes my card was charged twice",
    "no worries but where is my refund",
    "good night, can I still send money now",
    "wow my balance is wrong",
    "早上好，我的转账还没到",
    "没事了吗？我的卡还能用吗",
    "你好，我想问一下汇率",
    "one more question about my card",
    "我还有个问题，转账多久到账",
]


@pytest.mark.parametrize(("text", "kind"), SOCIAL, ids=[t for t, _ in SOCIAL])
def test_a_run_of_social_phrases_is_small_talk_of_its_weightiest_kind(text: str, kind: SmallTalk) -> None:
    assert recognise(text) is kind


@pytest.mark.parametrize("text", QUESTIONS)
def test_a_message_that_says_more_than_a_social_phrase_is_not_small_talk(text: str) -> None:
    assert recognise(text) is None


@pytest.mark.parametrize(("text", "kind"), EMOJI, ids=[t for t, _ in EMOJI])
def test_a_message_of_emoji_alone_is_small_talk(text: str, kind: SmallTalk) -> None:
    assert recognise(text) is kind


@pytest.mark.parametrize("text", NOT_SOCIAL_EMOJI)
def test_a_frown_punctuation_or_an_emoji_with_more_is_not_small_talk(text: str) -> None:
    assert recognise(text) is None
