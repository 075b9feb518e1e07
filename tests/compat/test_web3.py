"""web3.py against an ogn devnet: transfers, a Solidity contract calling the 0xF4 precompile, logs, reverts."""
import pytest
from eth_account import Account
from web3 import Web3
from web3.exceptions import ContractLogicError

from conftest import DEV_KEYS


@pytest.fixture(scope="module")
def w3(devnet):
    w3 = Web3(Web3.HTTPProvider(devnet.url))
    assert w3.is_connected()
    return w3


def send(w3, key, tx):
    account = Account.from_key(key)
    tx = {
        "from": account.address,
        "nonce": w3.eth.get_transaction_count(account.address, "pending"),
        "chainId": w3.eth.chain_id,
        **tx,
    }
    if "gas" not in tx:
        tx["gas"] = w3.eth.estimate_gas(tx)
    if "gasPrice" not in tx and "maxFeePerGas" not in tx:
        tx["maxFeePerGas"] = w3.eth.gas_price * 2
        tx["maxPriorityFeePerGas"] = w3.eth.max_priority_fee
    signed = account.sign_transaction(tx)
    tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    return w3.eth.wait_for_transaction_receipt(tx_hash, timeout=60)


def test_transfer(w3):
    alice, bob = Account.from_key(DEV_KEYS[0]).address, Account.from_key(DEV_KEYS[1]).address
    before = w3.eth.get_balance(bob)
    receipt = send(w3, DEV_KEYS[0], {"to": bob, "value": Web3.to_wei(1.5, "ether")})
    assert receipt.status == 1
    assert w3.eth.get_balance(bob) - before == Web3.to_wei(1.5, "ether")
    block = w3.eth.get_block(receipt.blockNumber, full_transactions=True)
    assert block.transactions[0]["from"] == alice
    # A legacy (gasPrice) transaction works too.
    receipt = send(w3, DEV_KEYS[0], {"to": bob, "value": 1, "gasPrice": w3.eth.gas_price})
    assert receipt.status == 1


def test_contract_calls_the_inference_precompile(w3, devnet, models, contract_artifact):
    cid = devnet.push("web3-affine", models / "affine.onnx")
    Caller = w3.eth.contract(abi=contract_artifact["abi"], bytecode=contract_artifact["bytecode"])
    account = Account.from_key(DEV_KEYS[0])
    deploy = Caller.constructor().build_transaction(
        {"from": account.address, "nonce": w3.eth.get_transaction_count(account.address, "pending")}
    )
    receipt = send(w3, DEV_KEYS[0], {k: v for k, v in deploy.items() if k not in ("from", "nonce", "chainId")})
    caller = w3.eth.contract(address=receipt.contractAddress, abi=contract_artifact["abi"])

    call = caller.functions.infer(cid, "x", [1, 2, 3, 4], [1, 4])
    tx = call.build_transaction({"from": account.address, "nonce": w3.eth.get_transaction_count(account.address, "pending")})
    receipt = send(w3, DEV_KEYS[0], {k: v for k, v in tx.items() if k not in ("from", "nonce", "chainId")})
    assert receipt.status == 1
    events = caller.events.Inferred().process_receipt(receipt)
    assert len(events) == 1
    ev = events[0]["args"]
    assert ev["outputName"] == "y" and ev["count"] == 2
    # y[0] = 1·1 + 2·0 + 3·1 + 4·2 + 0.5 = 12.5
    assert ev["firstValue"] / 10 ** ev["firstDecimals"] == 12.5
    assert caller.functions.runs().call() == 1

    # The event is found by eth_getLogs, filtered by address and topic.
    logs = w3.eth.get_logs({"fromBlock": 0, "toBlock": "latest", "address": caller.address,
                            "topics": [caller.events.Inferred().topic]})
    assert len(logs) == 1 and logs[0]["transactionHash"] == receipt.transactionHash


def test_revert_reasons_are_visible(w3, devnet, contract_artifact):
    Caller = w3.eth.contract(abi=contract_artifact["abi"], bytecode=contract_artifact["bytecode"])
    account = Account.from_key(DEV_KEYS[2])
    deploy = Caller.constructor().build_transaction(
        {"from": account.address, "nonce": w3.eth.get_transaction_count(account.address, "pending")}
    )
    receipt = send(w3, DEV_KEYS[2], {k: v for k, v in deploy.items() if k not in ("from", "nonce", "chainId")})
    caller = w3.eth.contract(address=receipt.contractAddress, abi=contract_artifact["abi"])
    with pytest.raises(ContractLogicError, match="asked to fail"):
        caller.functions.fail().call()
    # A model that does not exist: the precompile's reason reaches the caller.
    missing = "bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq"
    with pytest.raises(ContractLogicError):
        caller.functions.infer(missing, "x", [1, 2, 3, 4], [1, 4]).call({"from": account.address})


def test_bad_transactions_get_geth_errors(w3):
    account = Account.from_key(DEV_KEYS[1])
    tx = {"to": account.address, "value": 1, "gas": 21000, "gasPrice": w3.eth.gas_price,
          "nonce": 0, "chainId": w3.eth.chain_id}
    # Use nonce n, then try n again with a different transaction.
    used = w3.eth.get_transaction_count(account.address)
    w3.eth.wait_for_transaction_receipt(
        w3.eth.send_raw_transaction(account.sign_transaction({**tx, "nonce": used}).raw_transaction))
    with pytest.raises(Exception, match="nonce too low"):
        w3.eth.send_raw_transaction(account.sign_transaction({**tx, "nonce": used, "value": 2}).raw_transaction)
    # The same signed bytes twice: the second is a replay.
    raw = account.sign_transaction({**tx, "nonce": used + 1}).raw_transaction
    w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(raw))
    with pytest.raises(Exception, match="nonce too low|already known"):
        w3.eth.send_raw_transaction(raw)
    with pytest.raises(Exception, match="invalid chain id"):
        w3.eth.send_raw_transaction(account.sign_transaction({**tx, "chainId": 1, "nonce": w3.eth.get_transaction_count(account.address)}).raw_transaction)
    poor = Account.create()
    with pytest.raises(Exception, match="insufficient funds"):
        w3.eth.send_raw_transaction(poor.sign_transaction({**tx, "nonce": 0}).raw_transaction)
