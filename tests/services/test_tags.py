"""AddTags / ListTags / DeleteTags black-box tests through boto3."""

from __future__ import annotations

from modelyard.page_tokens import encode_token
from tests.conftest import client_for
from tests.support.aws_errors import code, error_of, message

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"


def tags(**pairs: str) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in pairs.items()]


def new_model(sm, name: str) -> str:  # type: ignore[no-untyped-def]
    return sm.create_model(ModelName=name, PrimaryContainer={"Image": IMAGE})["ModelArn"]


def test_add_list_delete(sm_any, unique):  # type: ignore[no-untyped-def]
    arn = new_model(sm_any, unique)
    assert sm_any.list_tags(ResourceArn=arn)["Tags"] == []
    added = sm_any.add_tags(ResourceArn=arn, Tags=tags(b="2", a="1"))
    assert added["Tags"] == tags(a="1", b="2")
    again = sm_any.add_tags(ResourceArn=arn, Tags=tags(b="two", c="3"))
    assert again["Tags"] == tags(a="1", b="two", c="3")
    assert sm_any.list_tags(ResourceArn=arn)["Tags"] == tags(a="1", b="two", c="3")
    sm_any.delete_tags(ResourceArn=arn, TagKeys=["a", "missing"])
    assert sm_any.list_tags(ResourceArn=arn)["Tags"] == tags(b="two", c="3")


def test_tags_on_every_kind(sm_any, unique):  # type: ignore[no-untyped-def]
    model_arn = new_model(sm_any, unique)
    config_arn = sm_any.create_endpoint_config(
        EndpointConfigName=f"Cfg-{unique}",
        ProductionVariants=[
            {
                "VariantName": "v",
                "ModelName": unique,
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 1,
            }
        ],
    )["EndpointConfigArn"]
    group_arn = sm_any.create_model_package_group(ModelPackageGroupName=unique)["ModelPackageGroupArn"]
    for arn in (model_arn, config_arn, group_arn, config_arn.replace(f"cfg-{unique}", f"Cfg-{unique}")):
        sm_any.add_tags(ResourceArn=arn, Tags=tags(owner="me"))
        assert sm_any.list_tags(ResourceArn=arn)["Tags"] == tags(owner="me")


def test_unknown_resource(sm_any, unique):  # type: ignore[no-untyped-def]
    arn = f"arn:aws:sagemaker:us-east-1:000000000000:model/{unique}"
    for call, params in (
        (sm_any.add_tags, {"Tags": tags(a="1")}),
        (sm_any.list_tags, {}),
        (sm_any.delete_tags, {"TagKeys": ["a"]}),
    ):
        err = error_of(call, ResourceArn=arn, **params)
        assert code(err) == "ValidationException"
        assert arn in message(err)


def test_resource_in_another_region_is_not_found(server, sm, unique):  # type: ignore[no-untyped-def]
    arn = new_model(sm, unique)
    other = client_for(server, "sagemaker", region="eu-west-1")
    err = error_of(other.list_tags, ResourceArn=arn)
    assert code(err) == "ValidationException" and arn in message(err)
    assert code(error_of(other.add_tags, ResourceArn=arn, Tags=tags(a="1"))) == "ValidationException"


def test_fifty_tags_at_most(sm_any, unique):  # type: ignore[no-untyped-def]
    arn = new_model(sm_any, unique)
    sm_any.add_tags(ResourceArn=arn, Tags=[{"Key": f"k{i:02}", "Value": str(i)} for i in range(45)])
    sm_any.add_tags(ResourceArn=arn, Tags=[{"Key": "k00", "Value": "overwritten"}])
    err = error_of(sm_any.add_tags, ResourceArn=arn, Tags=[{"Key": f"n{i}", "Value": ""} for i in range(6)])
    assert code(err) == "ValidationException" and "at most 50" in message(err)
    added = sm_any.add_tags(ResourceArn=arn, Tags=[{"Key": f"n{i}", "Value": ""} for i in range(5)])
    assert len(added["Tags"]) == 50
    assert sm_any.list_tags(ResourceArn=arn)["Tags"][0] == {"Key": "k00", "Value": "overwritten"}


def test_bad_tag_requests(sm, unique):  # type: ignore[no-untyped-def]
    arn = new_model(sm, unique)
    reserved = error_of(sm.add_tags, ResourceArn=arn, Tags=tags(**{"aws:owner": "x"}))
    assert code(reserved) == "ValidationException" and "aws:" in message(reserved)
    duplicate = error_of(
        sm.add_tags, ResourceArn=arn, Tags=[{"Key": "a", "Value": "1"}, {"Key": "a", "Value": "2"}]
    )
    assert code(duplicate) == "ValidationException" and "Duplicate tag key 'a'" in message(duplicate)
    bad_arn = error_of(sm.list_tags, ResourceArn="arn:aws:s3:::bucket")
    assert code(bad_arn) == "ValidationException" and "resourceArn" in message(bad_arn)
    assert sm.list_tags(ResourceArn=arn)["Tags"] == []


def test_list_tags_order_and_tokens(sm_any, any_server, unique):  # type: ignore[no-untyped-def]
    """At most 50 tags and MaxResults at least 50: one page always holds everything."""
    arn = new_model(sm_any, unique)
    keys = [f"key-{i:03}" for i in range(47)] + ["Zed", "a.b", "_x"]
    sm_any.add_tags(ResourceArn=arn, Tags=[{"Key": k, "Value": k} for k in keys])
    listed = sm_any.list_tags(ResourceArn=arn)
    assert [t["Key"] for t in listed["Tags"]] == sorted(keys)
    assert "NextToken" not in listed
    assert len(sm_any.list_tags(ResourceArn=arn, MaxResults=100)["Tags"]) == 50
    resumed = sm_any.list_tags(ResourceArn=arn, NextToken=encode_token("tags", "_x", key=any_server.page_token_key))
    assert [t["Key"] for t in resumed["Tags"]] == ["a.b"] + [f"key-{i:03}" for i in range(47)]
    for token in ("bm90LWEtdG9rZW4=", "%%%"):
        err = error_of(sm_any.list_tags, ResourceArn=arn, NextToken=token)
        assert code(err) == "ValidationException" and "Invalid pagination token" in message(err)
