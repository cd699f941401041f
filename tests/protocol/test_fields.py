import datetime as dt

from equipoise.protocol import DataField, FieldType


def field(**kw: object) -> DataField:
    return DataField.model_validate({"id": "x", "label": "X", **kw})


def test_number_out_of_range_is_refused_with_the_reason():
    spo2 = field(type="number", unit="%", range=[50, 100])
    assert spo2.check(97.5) is None
    assert spo2.check(101) == "101 % is outside the allowed range 50 to 100 %"
    assert spo2.check("high") == "must be a number"
    assert spo2.check(float("nan")) == "must be a number"


def test_required_and_optional():
    assert field(type="text").check(None) == "a value is required"
    assert field(type="text", required=False).check(None) is None


def test_integer_refuses_fractions_and_booleans():
    grade = field(type="integer", range=[1, 5])
    assert grade.check(3) is None
    assert grade.check(2.5) == "must be a whole number"
    assert grade.check(True) == "must be a whole number"


def test_choice_and_ordinal_and_date():
    sex = field(type="choice", choices=["female", "male"])
    assert sex.check("male") is None
    assert sex.check("m") == "must be one of: female, male"
    who = field(type="ordinal", scale="who-cps")
    assert who.type is FieldType.ORDINAL
    assert who.check(10) is None
    assert who.check(11) == "must be a level of the WHO clinical progression scale: 0 to 10"
    when = field(type="date")
    assert when.check(dt.date(2020, 3, 1)) is None
    assert when.check("2020-03-01") == "must be a date (YYYY-MM-DD)"
