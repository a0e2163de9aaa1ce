// SPDX-License-Identifier: Apache-2.0

// kinesis_v1 drives sluice with the AWS SDK for Go v1 as a Go user would:
// credentials, region and CA bundle from the environment (session.
// NewSession: AWS_SHARED_CREDENTIALS_FILE, AWS_REGION, and AWS_CA_BUNDLE or
// SSL_CERT_FILE), the endpoint from SLUICE_ENDPOINT. It creates a stream,
// PutRecords, reads every shard back with GetRecords and prints one JSON
// object for tests/e2e/test_go.py to check.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/aws/request"
	"github.com/aws/aws-sdk-go/aws/session"
	"github.com/aws/aws-sdk-go/service/kinesis"
)

type record struct {
	Shard          string `json:"shard"`
	PartitionKey   string `json:"partitionKey"`
	Data           string `json:"data"`
	SequenceNumber string `json:"sequenceNumber"`
}

type result struct {
	SDK         string   `json:"sdk"`
	Stream      string   `json:"stream"`
	Put         int      `json:"put"`
	FailedPut   int64    `json:"failedPut"`
	PutSeqs     []string `json:"putSeqs"`
	Records     []record `json:"records"`
	StreamNames []string `json:"streamNames"`
}

func fail(step string, err error) {
	fmt.Fprintf(os.Stderr, "%s: %v\n", step, err)
	os.Exit(1)
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: kinesis_v1 STREAM NRECORDS")
		os.Exit(2)
	}
	name := os.Args[1]
	n, err := strconv.Atoi(os.Args[2])
	if err != nil || n < 1 || n > 500 {
		fail("NRECORDS", fmt.Errorf("1..500, got %q", os.Args[2]))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	sess, err := session.NewSession(&aws.Config{
		Endpoint: aws.String(os.Getenv("SLUICE_ENDPOINT"))})
	if err != nil {
		fail("NewSession", err)
	}
	k := kinesis.New(sess)

	if _, err := k.CreateStreamWithContext(ctx, &kinesis.CreateStreamInput{
		StreamName: aws.String(name), ShardCount: aws.Int64(2)}); err != nil {
		fail("CreateStream", err)
	}
	// The SDK's own waiter (DescribeStream until ACTIVE), bounded by ctx;
	// polled every 100 ms instead of its default 10 s.
	if err := k.WaitUntilStreamExistsWithContext(ctx, &kinesis.DescribeStreamInput{
		StreamName: aws.String(name)},
		request.WithWaiterDelay(request.ConstantWaiterDelay(100*time.Millisecond))); err != nil {
		fail("WaitUntilStreamExists", err)
	}

	entries := make([]*kinesis.PutRecordsRequestEntry, n)
	for i := range entries {
		entries[i] = &kinesis.PutRecordsRequestEntry{
			PartitionKey: aws.String(fmt.Sprintf("pk-%d", i)),
			Data:         []byte(fmt.Sprintf("go-v1 record %d", i)),
		}
	}
	put, err := k.PutRecordsWithContext(ctx, &kinesis.PutRecordsInput{
		StreamName: aws.String(name), Records: entries})
	if err != nil {
		fail("PutRecords", err)
	}
	res := result{SDK: "aws-sdk-go", Stream: name, Put: len(put.Records),
		FailedPut: aws.Int64Value(put.FailedRecordCount)}
	for _, r := range put.Records {
		res.PutSeqs = append(res.PutSeqs, aws.StringValue(r.SequenceNumber))
	}

	shards, err := k.ListShardsWithContext(ctx, &kinesis.ListShardsInput{
		StreamName: aws.String(name)})
	if err != nil {
		fail("ListShards", err)
	}
	for _, sh := range shards.Shards {
		it, err := k.GetShardIteratorWithContext(ctx, &kinesis.GetShardIteratorInput{
			StreamName: aws.String(name), ShardId: sh.ShardId,
			ShardIteratorType: aws.String(kinesis.ShardIteratorTypeTrimHorizon)})
		if err != nil {
			fail("GetShardIterator", err)
		}
		got, err := k.GetRecordsWithContext(ctx, &kinesis.GetRecordsInput{
			ShardIterator: it.ShardIterator})
		if err != nil {
			fail("GetRecords", err)
		}
		for _, r := range got.Records {
			res.Records = append(res.Records, record{Shard: aws.StringValue(sh.ShardId),
				PartitionKey: aws.StringValue(r.PartitionKey), Data: string(r.Data),
				SequenceNumber: aws.StringValue(r.SequenceNumber)})
		}
	}
	ls, err := k.ListStreamsWithContext(ctx, &kinesis.ListStreamsInput{})
	if err != nil {
		fail("ListStreams", err)
	}
	res.StreamNames = aws.StringValueSlice(ls.StreamNames)
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		fail("encode", err)
	}
}
