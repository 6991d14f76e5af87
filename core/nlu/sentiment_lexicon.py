"""Weighted sentiment lexicons for English and Chinese customer messages.

The word lists are tuned for customer service: they score evaluative and
emotional words ("furious", "垃圾") and deliberately leave out words that
merely describe a problem ("lost", "stolen", "declined", "丢了"), because a
customer reporting a stolen card calmly is not upset with the bank.
Weights follow the usual -4..+4 valence scale.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final
from collections.abc import Mapping

ENGLISH_WORDS: Final[Mapping[str, float]] = MappingProxyType(
    {
        # anger / outrage
        "furious": -3.5, "livid": -3.5, "outraged": -3.5, "enraged": -3.5,
        "angry": -3.0, "mad": -2.0, "pissed": -3.0, "infuriating": -3.2,
        "ridiculous": -2.6, "absurd": -2.4, "unacceptable": -3.0,
        "outrageous": -3.0, "disgusting": -3.2, "disgraceful": -3.2,
        "shameful": -2.8, "scandalous": -2.8,
        # quality judgements
        "terrible": -3.0, "horrible": -3.0, "awful": -3.0, "worst": -3.2,
        "pathetic": -3.0, "useless": -2.8, "incompetent": -3.0,
        "rubbish": -2.6, "garbage": -2.8, "trash": -2.6, "crap": -2.8,
        "crappy": -2.8, "shit": -3.0, "shitty": -3.0, "sucks": -2.6,
        "bad": -2.0, "poor": -1.6, "lousy": -2.4, "stupid": -2.6,
        "joke": -1.6, "nonsense": -2.2, "scam": -3.0, "scammers": -3.2,
        "thieves": -3.2, "robbery": -2.6, "fraudsters": -3.0,
        "shocking": -2.2, "appalling": -3.2, "dreadful": -3.0,
        "slow": -1.0, "rude": -2.6, "unhelpful": -2.4, "hopeless": -2.6,
        "wtf": -3.0, "damn": -2.0, "hell": -1.6,
        # feelings
        "frustrated": -2.4, "frustrating": -2.4, "annoyed": -2.2,
        "annoying": -2.2, "irritated": -2.2, "upset": -2.2,
        "disappointed": -2.2, "disappointing": -2.2, "unhappy": -2.2,
        "hate": -3.0, "sick": -1.6, "tired": -1.2,
        "worried": -1.2, "stressed": -1.6, "disgusted": -3.0,
        # positive
        "thanks": 1.6, "thank": 1.6, "thx": 1.4, "appreciate": 2.0,
        "appreciated": 2.0, "great": 2.6, "excellent": 3.0,
        "awesome": 3.0, "amazing": 3.0, "fantastic": 3.0, "brilliant": 3.0,
        "wonderful": 3.0, "perfect": 2.8, "love": 2.8, "happy": 2.4,
        "glad": 2.0, "pleased": 2.2, "helpful": 2.2, "good": 1.8,
        "nice": 1.8, "fast": 1.0, "quick": 1.0, "easy": 1.2,
        "satisfied": 2.0, "impressed": 2.4, "best": 2.6, "cool": 1.4,
        "solved": 1.2, "resolved": 1.2,
    }
)

# Multi-word expressions are matched before single words.
ENGLISH_PHRASES: Final[Mapping[tuple[str, ...], float]] = MappingProxyType(
    {
        ("rip", "off"): -3.0, ("ripped", "off"): -3.0,
        ("waste", "of", "time"): -2.8, ("fed", "up"): -2.6,
        ("sick", "of"): -2.6, ("sick", "and", "tired"): -3.0,
        ("what", "the", "hell"): -3.0, ("what", "the", "fuck"): -3.6,
        ("thank", "you"): 1.8, ("well", "done"): 2.2,
        ("had", "enough"): -2.4, ("not", "acceptable"): -3.0,
    }
)

ENGLISH_NEGATORS: Final = frozenset(
    {
        "not", "no", "never", "nothing", "nobody", "none", "neither", "nor",
        "cannot", "cant", "can't", "dont", "don't", "doesnt", "doesn't",
        "didnt", "didn't", "isnt", "isn't", "wasnt", "wasn't", "arent",
        "aren't", "werent", "weren't", "wont", "won't", "wouldnt",
        "wouldn't", "hardly", "without",
    }
)

ENGLISH_BOOSTERS: Final[Mapping[str, float]] = MappingProxyType(
    {
        "very": 1.3, "really": 1.3, "so": 1.3, "extremely": 1.6,
        "totally": 1.4, "absolutely": 1.5, "completely": 1.4, "utterly": 1.6,
        "incredibly": 1.5, "super": 1.3, "too": 1.2, "truly": 1.3,
        "fucking": 1.7, "freaking": 1.5, "bloody": 1.4, "most": 1.2,
        "slightly": 0.6, "somewhat": 0.7, "little": 0.7, "bit": 0.7,
        "kinda": 0.7, "fairly": 0.8,
    }
)

# Chinese entries are matched longest-first on the raw character stream, so
# "不好" (negative) wins over "好" and "太好了" (positive) over "太".
CHINESE_WORDS: Final[Mapping[str, float]] = MappingProxyType(
    {
        "气死": -3.5, "气死我了": -3.8, "生气": -3.0, "愤怒": -3.5,
        "火大": -3.0, "恼火": -3.0, "受够": -3.0, "忍无可忍": -3.6,
        "垃圾": -3.2, "太差": -3.0, "很差": -2.6, "真差": -2.8, "好差": -2.8, "差劲": -3.0,
        "差评": -2.8, "不太好": -1.6,
        "烂": -2.6, "破银行": -3.0, "破卡": -2.2, "什么破": -2.6, "坑": -2.4, "坑人": -3.0, "骗子": -3.4,
        "骗钱": -3.4, "黑心": -3.2, "恶心": -3.0, "可恶": -3.0,
        "无语": -2.2, "离谱": -2.6, "荒唐": -2.6, "荒谬": -2.6,
        "过分": -2.6, "太过分": -3.0, "失望": -2.4, "不满": -2.4,
        "不满意": -2.6, "不爽": -2.4, "烦": -2.0, "烦死": -3.0,
        "讨厌": -2.6, "糟糕": -2.6, "崩溃": -2.6, "郁闷": -2.0,
        "投诉": -2.0, "滚": -3.0, "什么鬼": -2.6, "搞什么": -2.4,
        "不靠谱": -2.4, "没用": -2.4, "废物": -3.2, "磨蹭": -1.6,
        "太慢": -2.0, "慢死": -2.6, "着急": -1.2, "担心": -1.0,
        "不好": -1.8, "不行": -1.4, "糟透": -3.2, "坑爹": -3.0,
        "卧槽": -2.6, "妈的": -3.2, "他妈": -3.2,
        # Zero-weight blockers: everyday words that contain a sentiment
        # character ("麻烦您" is a polite "please", "差额" a balance difference).
        "麻烦": 0.0, "不好意思": 0.0, "差不多": 0.0, "差额": 0.0, "差价": 0.0,
        "汇率差": 0.0, "相差": 0.0,
        # positive
        "谢谢": 1.8, "感谢": 2.0, "多谢": 1.8, "谢啦": 1.6, "满意": 2.2,
        "很好": 2.4, "太好了": 2.8, "好评": 2.6, "不错": 2.0, "棒": 2.6,
        "赞": 2.4, "优秀": 2.8, "给力": 2.6, "专业": 1.6, "开心": 2.4,
        "高兴": 2.4, "喜欢": 2.4, "完美": 2.8, "厉害": 2.2, "方便": 1.4,
        "及时": 1.4, "耐心": 1.6, "贴心": 2.2, "靠谱": 2.0, "辛苦了": 1.8,
    }
)

CHINESE_NEGATORS: Final = ("没有", "并不", "并没", "不是", "不", "没", "别", "未", "无")

CHINESE_BOOSTERS: Final[Mapping[str, float]] = MappingProxyType(
    {
        "非常": 1.5, "特别": 1.5, "十分": 1.4, "极其": 1.7, "超级": 1.6,
        "真是": 1.3, "真的": 1.3, "简直": 1.5, "实在": 1.4, "太": 1.4,
        "很": 1.2, "超": 1.4, "真": 1.3, "好": 1.2, "最": 1.4, "巨": 1.5,
        "有点": 0.6, "有些": 0.7, "稍微": 0.6,
    }
)
